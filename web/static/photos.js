// Photos in entries, built in the browser as web/templates/_photo.html builds them on the server: a <picture>
// with AVIF and WebP sources and a JPEG <img> with every width (srcset), its width and height, its alt text, and
// the credit under it. Used by live.js (reader page, both embeds) and the desk. An ES module: it adds no name to
// the page. Text goes in as text (textContent, setAttribute), never as markup.

export const SIZES_ONE = "(min-width: 46rem) 44rem, 100vw";
export const SIZES_GALLERY = "(min-width: 46rem) 22rem, 50vw";

// "https://…/media/a.avif 320w, …" for one type; base: our origin where the page is elsewhere (the script embed).
export function srcset(photo, type, base = "") {
  return photo.files.filter((f) => f.type === type).map((f) => `${base}${f.url} ${f.width}w`).join(", ");
}

// One photo's <figure>. T: the page's strings (T.photo is "Foto:"); lazy: below the first screen.
export function photoFigure(photo, { T, base = "", lazy = true, sizes = SIZES_ONE, className = "entry-photo" }) {
  const figure = document.createElement("figure");
  figure.className = className;
  figure.dataset.photo = photo.id;
  const picture = document.createElement("picture");
  for (const type of ["image/avif", "image/webp"]) {
    const set = srcset(photo, type, base);
    if (!set) continue;
    const source = document.createElement("source");
    source.type = type;
    source.srcset = set;
    source.sizes = sizes;
    picture.append(source);
  }
  const img = document.createElement("img");
  img.src = base + photo.src;
  img.srcset = srcset(photo, "image/jpeg", base);
  img.sizes = sizes;
  img.width = photo.width;
  img.height = photo.height;
  img.alt = photo.alt;
  if (lazy) img.loading = "lazy";
  img.decoding = "async";
  picture.append(img);
  const caption = document.createElement("figcaption");
  if (photo.caption) {
    const text = document.createElement("span");
    text.className = "photo-caption";
    text.textContent = photo.caption;
    caption.append(text, " ");
  }
  const credit = document.createElement("span");
  credit.className = "photo-credit";
  credit.textContent = `${T.photo} ${photo.credit}`;
  caption.append(credit);
  figure.append(picture, caption);
  return figure;
}

// An entry's photos after its body (after, in the desk, the element given): made, changed or removed as the
// entry now is. A photo already shown with the same files and texts is kept as it is (its image is not reloaded).
export function fillPhotos(li, entry, { T, base = "", lazy = true, after = null }) {
  let box = li.querySelector(":scope > .photos");
  const photos = (!entry.retracted && entry.photos) || [];
  if (!photos.length) {
    if (box) box.remove();
    return;
  }
  if (!box) {
    box = document.createElement("div");
    (after || li.querySelector(":scope > .body")).after(box);
  }
  const many = photos.length > 1;
  box.className = "photos" + (many ? " gallery" : "");
  const shown = new Map([...box.children].map((figure) => [figure.dataset.key, figure]));
  box.replaceChildren(...photos.map((photo) => {
    const key = JSON.stringify([photo.id, photo.alt, photo.credit, photo.caption || "", many]);
    const figure = shown.get(key) || photoFigure(photo, { T, base, lazy, sizes: many ? SIZES_GALLERY : SIZES_ONE });
    figure.dataset.key = key;
    return figure;
  }));
}
