// The desk's photos: picking them (file picker, the phone's camera, drag and drop, paste), scaling a large one
// down in the browser before it is sent, keeping them in IndexedDB while a post waits in the outbox (field mode),
// and uploading each with a progress bar (XMLHttpRequest, which reports upload progress). An ES module, imported
// by the desk's modules. The server checks every photo again (ticker/media/images.py): nothing here is trusted.
import { el } from "./desk-dom.js";
import { fill } from "./fill.js";

// A photo as picked: scaled down so that its long side is at most longSide (a 12-megapixel phone photo of 6 MB
// becomes a JPEG of a few hundred kB), turned upright by its EXIF orientation, with nothing but its pixels; a file
// the browser cannot decode (HEIC in most browsers) or one small enough goes as it is, for the server to decode.
export async function prepare(file, { longSide, maxBytes }) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { blob: file, name: file.name || "foto", scaled: false };
  }
  const long = Math.max(bitmap.width, bitmap.height);
  const small = long <= longSide && file.size <= maxBytes;
  if (small && /^image\/(jpeg|png|webp|gif)$/.test(file.type)) {
    bitmap.close();
    return { blob: file, name: file.name || "foto", scaled: false };
  }
  const factor = Math.min(1, longSide / long);
  const width = Math.max(1, Math.round(bitmap.width * factor));
  const height = Math.max(1, Math.round(bitmap.height * factor));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
  if (!blob) return { blob: file, name: file.name || "foto", scaled: false };
  return { blob, name: (file.name || "foto").replace(/\.[^.]*$/, "") + ".jpg", scaled: true };
}

// A picked photo's thumbnail, drawn on a canvas: a blob: URL in an <img> would need blob: in the pages'
// Content-Security-Policy (img-src 'self' https:). A file the browser cannot decode (HEIC) keeps an empty square.
async function drawThumb(canvas, blob) {
  try {
    const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
    const side = Math.min(bitmap.width, bitmap.height); // the middle square, as object-fit: cover shows it
    const x = (bitmap.width - side) / 2;
    const y = (bitmap.height - side) / 2;
    canvas.getContext("2d").drawImage(bitmap, x, y, side, side, 0, 0, canvas.width, canvas.height);
    bitmap.close();
  } catch {
    // not decodable here: the server decodes it
  }
}

// Upload one photo: POST /api/photos as multipart/form-data with its texts; onProgress(0..1) as it goes.
// Resolves {status, ok, data}; rejects when the connection fails (the caller keeps it for later).
export function upload(photo, { csrf, key, onProgress = () => {} }) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("alt", photo.alt);
    form.append("credit", photo.credit);
    if (photo.caption) form.append("caption", photo.caption);
    form.append("file", photo.blob, photo.name || "foto.jpg");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/photos");
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    if (key) xhr.setRequestHeader("Idempotency-Key", key);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON: a proxy's page */ }
      if (xhr.status >= 200 && xhr.status < 300) onProgress(1);
      resolve({ status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, data });
    };
    xhr.onerror = xhr.ontimeout = xhr.onabort = () => reject(new Error("network"));
    xhr.send(form);
  });
}

// A picker's photos as an entry or incident names them: each new one uploaded first (its progress bar filling),
// the rest by id with their texts. null when an upload failed (the problem is said through onProblem). keyPrefix:
// the Idempotency-Key of the lot, each photo's being "<keyPrefix>/<n>"; photoProblem: a refusal in words.
export async function uploadAll(items, keyPrefix, { T, csrf, photoProblem, onProblem }) {
  const refs = [];
  for (const [n, item] of items.entries()) {
    const texts = { alt: item.alt.trim(), credit: item.credit.trim(), caption: item.caption.trim() || null };
    if (!item.blob) {
      refs.push({ id: item.id, ...texts });
      continue;
    }
    if (!item.uploaded) {
      const bar = item.row.querySelector(".photo-progress");
      bar.hidden = false;
      let result;
      try {
        result = await upload({ ...item, ...texts }, { csrf, key: `${keyPrefix}/${n}`,
          onProgress: (done) => { bar.value = done; } });
      } catch {
        onProblem(T.err_network_photo);
        return null;
      }
      if (!result.ok) { onProblem(photoProblem(result.status, result.data)); return null; }
      item.uploaded = result.data.photo.id;
    }
    refs.push({ id: item.uploaded, ...texts });
  }
  return refs;
}

// The outbox's photos while their post waits: IndexedDB keeps Blobs (localStorage keeps only text), so a post
// written offline keeps its photos across a reload, a closed tab or a restarted phone.
const DB = "ticker-desk-photos";
const STORE = "photos";
let opened = null;
function db() {
  opened = opened || new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}
async function transaction(mode, work) {
  const store = (await db()).transaction(STORE, mode).objectStore(STORE);
  return new Promise((resolve, reject) => {
    const request = work(store);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
export const blobs = {
  put: (id, blob) => transaction("readwrite", (s) => s.put(blob, id)),
  get: (id) => transaction("readonly", (s) => s.get(id)),
  remove: (id) => transaction("readwrite", (s) => s.delete(id)),
};

// The photo picker of the composer and of an entry's editor. T: the desk's strings; limits: state.photo; credit:
// the credit a new photo starts with (the reporter's name). Its items: photos picked here ({blob, name, alt,
// credit, caption}) and, in an editor, the entry's own ({id, src, alt, credit, caption}).
export function picker({ T, limits, credit, onProblem }) {
  const root = el("div", { className: "photo-picker" });
  const list = el("ol", { className: "photo-items" });
  const fileInput = (capture) => {
    const input = el("input", { type: "file", accept: "image/*", className: "visually-hidden" });
    if (capture) input.setAttribute("capture", "environment");
    else input.multiple = true;
    input.addEventListener("change", () => { add([...input.files]); input.value = ""; });
    return input;
  };
  const pick = el("label", { className: "photo-add button" }, fileInput(false), T.photo_add);
  const camera = el("label", { className: "photo-camera button" }, fileInput(true), T.photo_camera);
  root.append(el("div", { className: "photo-pick" }, pick, " ", camera, " ",
    el("small", { className: "photo-hint", textContent: T.photo_hint })), list);
  let items = [];

  function row(item) {
    const li = el("li", { className: "photo-item" });
    const thumb = item.blob ? el("canvas", { className: "photo-thumb", width: 160, height: 160 })
      : el("img", { className: "photo-thumb", alt: "", src: item.src });
    thumb.setAttribute("aria-hidden", "true"); // the fields beside it say what it is
    if (item.blob) drawThumb(thumb, item.blob);
    const field = (name, label, props) => {
      const input = el(props.rows ? "textarea" : "input", { value: item[name] || "", ...props });
      input.dataset.field = name; // no name: the fields stay out of a form's own data
      input.addEventListener("input", () => { item[name] = input.value; });
      return el("label", { className: "photo-" + name }, label + " ", input);
    };
    const most = limits.text_max_chars;
    const remove = el("button", { type: "button", className: "photo-remove", textContent: T.photo_remove });
    remove.addEventListener("click", () => {
      items = items.filter((i) => i !== item);
      li.remove();
    });
    const progress = el("progress", { className: "photo-progress", max: 1, value: 0, hidden: true });
    progress.setAttribute("aria-label", T.photo_progress);
    li.append(thumb, el("div", { className: "photo-fields" },
      field("alt", T.photo_alt, { maxLength: most, required: true, placeholder: T.photo_alt_hint }),
      field("credit", T.photo_credit, { maxLength: most, required: true }),
      field("caption", T.photo_caption, { maxLength: most, rows: 1 }), progress), remove);
    item.row = li;
    return li;
  }

  async function add(files) {
    for (const file of files) {
      if (!file.type.startsWith("image/") && !/\.(heic|heif)$/i.test(file.name || "")) {
        onProblem(T.err_photo_type);
        continue;
      }
      if (items.length >= limits.max_per_entry) {
        onProblem(fill(T.err_photo_count, { max: limits.max_per_entry }));
        return;
      }
      const prepared = await prepare(file, { longSide: limits.long_side, maxBytes: limits.max_bytes });
      if (prepared.blob.size > limits.max_bytes) {
        onProblem(fill(T.err_photo_too_large, { max: Math.floor(limits.max_bytes / 1048576) }));
        continue;
      }
      const item = { blob: prepared.blob, name: prepared.name, alt: "", credit, caption: "" };
      items.push(item);
      list.append(row(item));
      if (file === files[0]) item.row.querySelector("[data-field=alt]").focus(); // its alt text is asked for first
    }
  }

  // Drag and drop and paste onto a larger element (the composer, the editor).
  function accept(target, pasteTarget = target) {
    target.addEventListener("dragover", (event) => {
      if ([...event.dataTransfer.types].includes("Files")) { event.preventDefault(); target.classList.add("dropping"); }
    });
    target.addEventListener("dragleave", () => target.classList.remove("dropping"));
    target.addEventListener("drop", (event) => {
      const files = [...event.dataTransfer.files];
      target.classList.remove("dropping");
      if (!files.length) return;
      event.preventDefault();
      add(files);
    });
    pasteTarget.addEventListener("paste", (event) => {
      const files = [...event.clipboardData.files].filter((f) => f.type.startsWith("image/"));
      if (!files.length) return;
      event.preventDefault(); // a pasted picture is a photo, not its file name in the text
      add(files);
    });
  }

  return {
    element: root,
    accept,
    add,
    items: () => items,
    // "" when every photo has its alt text and credit, else the problem (and the field is focused).
    check() {
      for (const item of items) {
        for (const [name, problem] of [["alt", T.err_photo_alt], ["credit", T.err_photo_credit]]) {
          if (!(item[name] || "").trim()) {
            item.row.querySelector(`[data-field=${name}]`).focus();
            return problem;
          }
        }
      }
      return "";
    },
    adopt(item) { // a photo taken back from the outbox (its post was refused)
      items.push(item);
      list.append(row(item));
    },
    set(photos) { // an editor's start: the entry's own photos
      items = photos.map((p) => ({ ...p, caption: p.caption || "" }));
      list.replaceChildren(...items.map(row));
    },
    clear() {
      items = [];
      list.replaceChildren();
    },
  };
}
