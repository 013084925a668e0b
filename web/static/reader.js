// Ticker reader: follows incidents with web/static/live.js (over /live, or /sse/{slug} when a websocket cannot
// open) and applies their events in place. It resumes from the seq embedded in the page and ignores any event it
// already has. Reusable pieces are on window.Ticker (see docs/reader.md). An ES module (deferred by its nature).
import * as clocks from "./clock.js";
import { fill } from "./fill.js";
import * as live from "./live.js";
import { photoFigure } from "./photos.js";

const { textOf, shorten } = live;

const $ = (selector, el = document) => el.querySelector(selector);
const stringsEl = document.getElementById("ticker-strings");
const T = stringsEl ? JSON.parse(stringsEl.textContent) : {};
const lang = document.documentElement.lang;
const numberFormat = new Intl.NumberFormat(clocks.locale(lang));
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

const clock = clocks.clock(lang); // "22:37"
const when = clocks.when(lang); // "7 maj 2024 22:37"

// Entries: the markup is web/templates/_entry.html, cloned from the page's <template id="entry-template">.
const fillEntry = (li, entry) => live.fillEntry(li, entry, { T, clock, lang });
function entryNode(entry, template = document.getElementById("entry-template")) {
  return fillEntry(template.content.firstElementChild.cloneNode(true), entry);
}

function indicator(root, conn) {
  return (state, transport) => {
    conn.hidden = false;
    conn.dataset.state = state;
    conn.textContent = T["status_" + state];
    if (transport) root.dataset.transport = transport;
  };
}

// The incident page.
function incidentPage(root) {
  const slug = root.dataset.incident;
  const list = $(".entries", root);
  const bar = $(".new-bar", root);
  const keyBox = $(".key-events", root);
  const announcer = document.getElementById("announcer");
  const pending = new Map(); // new entries held while the reader is scrolled down into the list
  const atTop = () => list.getBoundingClientRect().top >= 0;
  const announce = (text) => { announcer.textContent = text; };

  // The reader's view (ticker/http/reader_views.py): "Bara viktigaste" shows key events (and the pinned entry)
  // only; "Äldst först" puts new entries at the bottom, once every newer page has been loaded.
  const view = { keyOnly: "keyOnly" in root.dataset, oldestFirst: "oldestFirst" in root.dataset };
  const place = (li, entry) => live.placeEntry(list, li, entry, view);
  function key(entry) {
    const ul = $("ul", keyBox);
    let item = $(`li[data-id="${entry.id}"]`, ul);
    if (!entry.key_event || entry.retracted) {
      if (item) item.remove();
    } else {
      if (!item) {
        item = document.createElement("li");
        item.dataset.id = entry.id;
        item.innerHTML = '<a><span class="key-label"></span> <span class="key-text"></span></a>';
        const after = [...ul.children].find((other) => Number(other.dataset.id) < entry.id);
        ul.insertBefore(item, after || null);
        $("a", item).href = "#entry-" + entry.id;
      }
      $(".key-label", item).textContent = entry.label;
      $(".key-text", item).textContent = shorten(textOf(entry.body), 80);
    }
    keyBox.hidden = !ul.children.length;
  }
  function settle() {
    $(".empty", root).hidden = list.querySelector(":scope > .entry") !== null;
    bar.hidden = !pending.size;
    bar.textContent = pending.size === 1 ? T.new_update : fill(T.new_updates, { n: pending.size });
  }
  function arrive(entry) {
    const li = entryNode(entry);
    place(li, entry);
    if (!reducedMotion.matches) li.classList.add("arrived");
    return li;
  }
  // An event's entry. posted: it is new; said: what a screen reader is told of it ("" for nothing). A retraction
  // is said at once (an entry that vanishes would otherwise go unnoticed); a new entry when it shows.
  function applyEntry(entry, posted, said) {
    key(entry);
    if (entry.retracted && said) announce(said);
    const gone = !live.inView(entry, view);
    let li = document.getElementById("entry-" + entry.id);
    if (pending.has(entry.id)) {
      if (gone) pending.delete(entry.id);
      else pending.set(entry.id, entry);
    } else if (gone) {
      if (li) li.remove();
    } else if (li) {
      const moved = li.classList.contains("pinned") !== entry.pinned;
      fillEntry(li, entry);
      if (moved) place(li, entry);
    } else if (view.oldestFirst && !entry.pinned && $(".more", root)) {
      // Oldest first with newer pages still to load: it comes with them, in its place.
    } else if (posted && !view.oldestFirst && !atTop()) {
      pending.set(entry.id, entry);
      announce(pending.size === 1 ? T.new_update : fill(T.new_updates, { n: pending.size }));
    } else if (posted || entry.pinned || view.keyOnly) { // keyOnly: an entry made a key event joins the view
      li = arrive(entry);
      if (posted) announce(said);
    }
    settle();
  }
  function bringIn(focus) {
    let newest = null;
    for (const entry of [...pending.values()].sort((a, b) => a.id - b.id)) newest = arrive(entry);
    pending.clear();
    settle();
    if (focus && newest) {
      list.scrollIntoView({ block: "start", behavior: reducedMotion.matches ? "auto" : "smooth" });
      newest.tabIndex = -1;
      newest.focus({ preventScroll: true });
    }
  }
  function applyIncident(incident) {
    $(".title", root).textContent = incident.title;
    document.title = incident.title + document.title.slice(document.title.lastIndexOf(" – "));
    for (const name of ["summary", "category"]) {
      const el = $("." + name, root);
      el.textContent = incident[name];
      el.hidden = !incident[name];
    }
    const badge = $(".badge", root);
    badge.className = "badge " + incident.status;
    badge.textContent = incident.status === "live" ? T.live : T.closed;
    applyLeadPhoto(incident);
    const photo = $(".photo", root); // a hot-linked photo_url, as before uploads; an uploaded photo wins
    photo.hidden = !incident.photo_url || Boolean(incident.photo);
    if (incident.photo_url && $("img", photo).getAttribute("src") !== incident.photo_url) {
      $("img", photo).src = incident.photo_url;
    }
    $("img", photo).alt = fill(T.photo_alt, { title: incident.title });
    $("figcaption", photo).hidden = !incident.photo_credit;
    $(".photo-credit", photo).textContent = incident.photo_credit || "";
  }
  function applyLeadPhoto(incident) {
    const box = $(".lead-photo", root);
    const photo = incident.photo;
    const key = photo ? JSON.stringify([photo.id, photo.alt, photo.credit, photo.caption || ""]) : "";
    if (!box || box.dataset.key === key) return;
    box.dataset.key = key;
    box.hidden = !photo;
    box.replaceChildren(...(photo ? [photoFigure(photo, { T, lazy: false, className: "lead" })] : []));
  }
  function touched(at) {
    const updated = $(".updated", root);
    updated.setAttribute("datetime", at);
    updated.textContent = when(at);
  }
  function onMessage(msg) {
    if (msg.type === "deleted") { // taken down: nothing of it stays on the page
      root.replaceChildren(live.removedNotice(T));
      document.title = T.removed + document.title.slice(document.title.lastIndexOf(" – "));
      pending.clear();
      return;
    }
    if (msg.type === "snapshot") {
      const ads = [...list.querySelectorAll(":scope > .ad-slot")];
      list.replaceChildren();
      $("ul", keyBox).replaceChildren();
      pending.clear();
      const more = $(".more-wrap", root);
      if (more) more.remove(); // a snapshot holds every entry
      applyIncident(msg.data.incident);
      for (const entry of msg.data.entries) {
        key(entry);
        if (live.inView(entry, view)) place(entryNode(entry), entry);
      }
      const shown = [...list.querySelectorAll(":scope > .entry:not(.pinned)")];
      const every = Number(list.dataset.adEvery || 0);
      ads.forEach((ad, i) => { if (shown[(i + 1) * every - 1]) shown[(i + 1) * every - 1].after(ad); });
      settle();
      touched(msg.data.incident.updated_at);
      return;
    }
    if (msg.data.entry) applyEntry(msg.data.entry, msg.event === "entry.posted", live.announcement(msg, T));
    if (msg.data.incident) applyIncident(msg.data.incident);
    touched(msg.at);
  }

  bar.addEventListener("click", () => bringIn(true));
  addEventListener("scroll", () => { if (pending.size && atTop()) bringIn(false); }, { passive: true });

  const more = $(".more", root);
  if (more) {
    more.addEventListener("click", async (event) => {
      event.preventDefault();
      more.textContent = T.loading;
      try {
        const query = new URLSearchParams({ [more.dataset.cursor]: more.dataset.next, limit: root.dataset.page });
        if (view.keyOnly) query.set("key_events", "1");
        const response = await fetch(`/api/incidents/${slug}/entries?${query}`);
        if (!response.ok) throw new Error(String(response.status));
        const page = await response.json();
        for (const entry of page.entries) {
          if (live.inView(entry, view) && !document.getElementById("entry-" + entry.id)) {
            place(entryNode(entry), entry);
          }
        }
        if (page.next) {
          more.dataset.next = page.next;
          more.search = more.search.replace(/(before|after)=\d+/, `$1=${page.next}`);
          more.textContent = T.more;
        } else {
          more.parentElement.remove();
        }
      } catch {
        more.textContent = T.load_failed;
      }
    });
  }

  const viewers = $(".viewers", root);
  async function refreshViewers() {
    if (document.visibilityState === "visible") {
      try {
        const response = await fetch(`/i/${slug}/viewers`);
        if (response.ok) {
          const n = (await response.json()).viewers;
          viewers.hidden = !n;
          viewers.textContent = fill(T.viewers, { n: numberFormat.format(n) });
        }
      } catch { /* keep the last figure */ }
    }
    setTimeout(refreshViewers, 30000 * (0.75 + Math.random() / 2));
  }
  setTimeout(refreshViewers, 5000);

  const positions = new Map([[slug, { seq: Number(root.dataset.seq), epoch: root.dataset.epoch }]]);
  live.follow(positions, onMessage, indicator(root, $(".conn", root)));
}

// The front page: each live incident's card follows its incident, and incidents opened since the page was loaded
// join it (it asks /api/front every data-refresh seconds while it is visible).
function frontPage(front) {
  const cards = new Map();
  for (const card of front.querySelectorAll(".card[data-incident]")) cards.set(card.dataset.incident, card);
  const positions = new Map();
  for (const [incident, card] of cards) {
    positions.set(incident, { seq: Number(card.dataset.seq), epoch: card.dataset.epoch });
  }
  let follower = null;
  function onMessage(msg) {
    const card = cards.get(msg.incident);
    if (msg.type === "deleted") {
      card.remove();
      cards.delete(msg.incident);
      $(".empty", front).hidden = cards.size > 0;
      return;
    }
    const incident = msg.data.incident;
    const entry = msg.type === "snapshot"
      ? msg.data.entries.find((e) => !e.retracted)
      : msg.data.entry;
    if (incident) {
      $(".card-title a", card).textContent = incident.title;
      const badge = $(".badge", card);
      badge.className = "badge " + incident.status;
      badge.textContent = incident.status === "live" ? T.live : T.closed;
    }
    const latest = $(".latest", card);
    if (entry && (msg.type === "snapshot" || msg.event === "entry.posted" || latest.dataset.id == entry.id)) {
      latest.dataset.id = entry.id;
      latest.hidden = entry.retracted;
      $(".latest-label", card).textContent = entry.label;
      $(".latest-text", card).textContent = shorten(textOf(entry.body), 160);
      if (msg.event === "entry.posted") card.parentElement.prepend(card);
    }
    const at = msg.at || (incident && incident.updated_at);
    const updated = $(".updated", card);
    updated.setAttribute("datetime", at);
    updated.textContent = when(at);
  }
  const start = () => { follower = live.follow(positions, onMessage, indicator(front, $(".conn", front))); };
  if (cards.size) start();

  async function lookForNew() {
    if (document.visibilityState === "visible") {
      try {
        const response = await fetch(`/api/front?lang=${front.dataset.lang}`, { cache: "no-cache" });
        if (response.ok) {
          const { incidents } = await response.json();
          for (const found of incidents.slice().reverse()) { // the newest ends on top
            if (cards.has(found.slug) || cards.size >= Number(front.dataset.followMost)) continue;
            const template = document.createElement("template");
            template.innerHTML = found.card;
            const card = template.content.firstElementChild;
            $(".cards", front).prepend(card);
            cards.set(found.slug, card);
            const position = { seq: found.seq, epoch: found.epoch };
            if (follower) follower.add(found.slug, position);
            else {
              positions.set(found.slug, position);
              start();
            }
          }
          $(".empty", front).hidden = cards.size > 0;
        }
      } catch { /* try again next time */ }
    }
    setTimeout(lookForNew, Number(front.dataset.refresh) * 1000 * (0.75 + Math.random() / 2));
  }
  setTimeout(lookForNew, Number(front.dataset.refresh) * 1000);
}

live.enableCards(document.body); // link cards: the provider's player loads only on a click (cards.js)

for (const button of document.querySelectorAll(".copy-link")) {
  if (!navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(button.dataset.url);
    button.textContent = button.dataset.copied;
  });
}

window.Ticker = { fillEntry, entryNode, follow: live.follow, when, clock };
const incident = document.getElementById("incident");
if (incident && incident.hasAttribute("data-live")) incidentPage(incident);
const front = document.getElementById("front");
if (front) frontPage(front);
