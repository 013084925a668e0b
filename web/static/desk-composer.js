// The incident desk's composer (ES module): the text with its toolbar and preview, the label (the clock's time
// until the reporter writes one), the photos, the draft kept in localStorage, and the posts waiting in the outbox,
// shown above the entries as "skickas…" until the server has them.
import { newKey } from "./desk-api.js";
import { button, el } from "./desk-dom.js";
import { head } from "./desk-entries.js";
import { formatter, toHtml, toText } from "./desk-format.js";
import { blobs, picker } from "./desk-photos.js";
import { fill } from "./fill.js";

// form: the #composer; desk and list: where the posts waiting show; outbox: desk-outbox.js's; clock(): the time
// label for now; say(text): the desk's problem bar.
export function composer({ form, desk, list, T, state, photoLimits, outbox, clock, say }) {
  const slug = state.incident.slug;
  const textarea = form.querySelector("textarea");
  const labelInput = form.elements.label;
  const preview = form.querySelector(".preview");
  const DRAFT = `ticker.draft.${state.me.id}.${slug}`;
  // Its photos: picked, shot, dropped onto it or pasted (desk-photos.js).
  const photos = picker({ T, limits: photoLimits, credit: state.me.name, onProblem: say });
  form.querySelector(".composer-row").before(photos.element);
  photos.accept(form);

  // The posts waiting, this incident's, oldest first above the confirmed entries.
  function showOutbox() {
    const items = outbox.items().filter((i) => i.slug === slug);
    const keys = new Set(items.map((i) => i.key));
    for (const li of list.querySelectorAll(".pending")) if (!keys.has(li.dataset.key)) li.remove();
    for (const item of items) {
      let li = list.querySelector(`.pending[data-key="${item.key}"]`);
      if (!li) {
        li = el("li", { className: "pending" });
        li.dataset.key = item.key;
        list.prepend(li);
      }
      li.classList.toggle("failed", Boolean(item.problem));
      li.textContent = "";
      const sending = item.problem ? item.problem : navigator.onLine ? T.sending : T.queued;
      li.append(head(item.label, " ", el("span", { className: "send-state", textContent: sending })),
        el("div", { className: "entry-body", innerHTML: item.body })); // the composer's own escaped output
      if (item.photos && item.photos.length) li.append(pendingPhotos(item));
      if (item.problem) {
        li.append(button(T.to_composer, "to-composer", async () => {
          textarea.value = (textarea.value ? textarea.value + "\n\n" : "") + toText(item.body);
          textarea.dispatchEvent(new Event("input"));
          outbox.remove(item.key);
          showOutbox();
          for (const photo of item.photos || []) { // back into the composer, with their texts
            const blob = await blobs.get(photo.blob).catch(() => undefined);
            if (blob) photos.adopt({ blob, name: photo.name, alt: photo.alt, credit: photo.credit, caption: photo.caption });
            blobs.remove(photo.blob).catch(() => {});
          }
        }));
      }
    }
    const first = list.querySelector(".entry");
    for (const item of items) {
      const li = list.querySelector(`.pending[data-key="${item.key}"]`);
      if (first) list.insertBefore(li, first); else list.append(li);
    }
    const waiting = outbox.items().filter((i) => !i.problem).length;
    const count = desk.querySelector(".outbox-count");
    count.hidden = waiting === 0;
    count.textContent = `${waiting} ${T.queued}`;
    desk.querySelector(".no-entries").hidden = list.children.length > 0;
  }

  // A waiting post's photos, each with its upload's progress bar (full once the server has it).
  const progressOf = new Map(); // "key/n" -> 0..1 while it uploads
  function pendingPhotos(item) {
    return el("ul", { className: "pending-photos" }, ...item.photos.map((photo, n) => {
      const bar = el("progress", { max: 1, value: photo.id ? 1 : progressOf.get(`${item.key}/${n}`) || 0 });
      bar.dataset.photo = `${item.key}/${n}`;
      bar.setAttribute("aria-label", fill(T.photo_progress_n, { n: n + 1, name: photo.name }));
      return el("li", {}, el("span", { textContent: fill(T.photo_progress_n, { n: n + 1, name: photo.name }) }), " ", bar);
    }));
  }
  function showProgress(id, done) {
    progressOf.set(id, done);
    const bar = list.querySelector(`progress[data-photo="${id}"]`);
    if (bar) bar.value = done;
  }

  let posting = false;
  async function post() {
    const html = toHtml(textarea.value);
    if (!html) { say(T.err_empty); return; }
    if (html.length > state.max_chars) { say(fill(T.err_too_long, { max: state.max_chars })); return; }
    const problem = photos.check();
    if (problem) { say(problem); return; }
    if (posting) return;
    say("");
    const key = newKey();
    // The photos are kept in IndexedDB before the post is queued: the outbox never names a photo it cannot send.
    const kept = [];
    posting = true;
    try {
      for (const [n, photo] of photos.items().entries()) {
        await blobs.put(`${key}/${n}`, photo.blob);
        kept.push({ blob: `${key}/${n}`, name: photo.name, alt: photo.alt.trim(), credit: photo.credit.trim(),
          caption: photo.caption.trim() });
      }
    } catch {
      say(T.err_photo_store);
      return;
    } finally {
      posting = false;
    }
    photos.clear();
    outbox.add({
      key,
      photos: kept,
      slug,
      body: html,
      label: labelInput.value.trim() || clock(new Date()),
      key_event: form.elements.key_event.checked,
      pinned: form.elements.pinned ? form.elements.pinned.checked : false,
    });
    textarea.value = "";
    localStorage.removeItem(DRAFT);
    form.elements.key_event.checked = false;
    if (form.elements.pinned) form.elements.pinned.checked = false;
    delete labelInput.dataset.touched;
    tick();
    showPreview(false);
    showOutbox();
    outbox.flush();
  }

  function tick() {
    if (!labelInput.dataset.touched) labelInput.value = clock(new Date());
  }

  function showPreview(on) {
    preview.hidden = !on;
    textarea.hidden = on;
    form.querySelector(".preview-toggle").setAttribute("aria-pressed", String(on));
    if (on) preview.innerHTML = toHtml(textarea.value); // escaped by toHtml
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); post(); });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); post(); }
  });
  const format = formatter(textarea, T);
  for (const b of form.querySelectorAll("[data-format]")) {
    b.addEventListener("click", () => format(b.dataset.format));
  }
  form.querySelector(".preview-toggle").addEventListener("click", () => showPreview(preview.hidden));
  labelInput.addEventListener("input", () => { labelInput.dataset.touched = "1"; });
  textarea.addEventListener("input", () => localStorage.setItem(DRAFT, textarea.value));
  textarea.value = localStorage.getItem(DRAFT) || "";
  tick();
  setInterval(tick, 15000);

  return { showOutbox, showProgress };
}
