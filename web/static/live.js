// Ticker's live client, shared by reader.js (our own pages) and embed.js (partner pages): filling an entry's
// markup, the order of entries, and the connection that follows incidents over /live, or /sse/{slug} when a
// websocket cannot open, resuming from the last seq applied and ignoring any event already applied
// (docs/protocol.md). An ES module: importing it adds no name to the page.

import { backoffDelay } from "./backoff.js";
import { enableCards, fillCards } from "./cards.js";
import { fill } from "./fill.js";

export { enableCards }; // the pages and embed.js make their cards playable through live.js

import { fillPhotos } from "./photos.js";

const $ = (selector, el) => el.querySelector(selector);

// Fill a clone of web/templates/_entry.html with an entry. T: the page's strings; clock: ISO time -> "22:37";
// base: the origin the permalink points to ("" on our own pages); newTab: links open a new tab (a partner's page);
// lang: the page's language, which the permalink keeps (Swedish, the default, needs no ?lang=).
export function fillEntry(li, entry, { T, clock, base = "", newTab = false, lang = "sv" }) {
  li.id = "entry-" + entry.id;
  li.dataset.id = entry.id;
  li.className = "entry" + (entry.pinned ? " pinned" : "") + (entry.key_event ? " key" : "") +
    (entry.retracted ? " retracted" : "");
  $(".pin-mark", li).hidden = !entry.pinned;
  // The time, which is the entry's permalink, reads "Uppdatering 22:37" to a screen reader and shows "22:37".
  const label = $(".label", li);
  const prefix = $(".sr-only", label) || document.createElement("span");
  prefix.className = "sr-only";
  prefix.textContent = T.update_label + " ";
  label.replaceChildren(prefix, entry.label);
  label.setAttribute("datetime", entry.created_at);
  $(".author", li).textContent = entry.author;
  const body = $(".body", li);
  if (entry.retracted) {
    const note = document.createElement("p");
    note.className = "correction";
    note.textContent = entry.correction || T.retracted;
    body.replaceChildren(note);
  } else {
    body.innerHTML = entry.body; // sanitised by the server on the way in
    fillCards(body, entry.cards, { T, base, newTab }); // its link cards in place of their links (cards.js)
    if (newTab) for (const a of body.querySelectorAll("a")) a.target = "_blank";
  }
  const permalink = $(".permalink", li);
  permalink.href = `${base}/i/${entry.incident}/e/${entry.id}` + (lang === "sv" ? "" : `?lang=${lang}`);
  if (newTab) permalink.target = "_blank";
  const edited = $(".edited", li);
  edited.hidden = !entry.edited_at;
  if (entry.edited_at) {
    edited.setAttribute("datetime", entry.edited_at);
    edited.textContent = T.edited + " " + clock(entry.edited_at);
  }
  fillPhotos(li, entry, { T, base }); // its photos after its text (photos.js), with the srcset the server gives
  return li;
}

// Plain text of an entry's HTML, as the server's ticker.sanitize.text_of makes it: the end of a paragraph, list
// item or quote, and a line break, part words ("<p>Bild</p><p>https://…</p>" is "Bild https://…", not "Bildhttps").
export function textOf(html) {
  const t = document.createElement("template");
  t.innerHTML = html;
  for (const block of t.content.querySelectorAll("p, li, blockquote, br")) block.after(" ");
  return t.content.textContent.replace(/\s+/g, " ").trim();
}

// At most size characters, cut at a word, with "…".
export function shorten(text, size) {
  return text.length <= size ? text : text.slice(0, size - 1).replace(/\s+\S*$/, "") + "…";
}

// What a screen reader is told of an event, or "" (T: the page's strings with announce, announce_retracted and
// announce_corrected). New entries and retractions are said; edits, pins and the rest are not.
export function announcement(msg, T) {
  const entry = msg.type === "event" && msg.data.entry;
  if (!entry) return "";
  if (msg.event === "entry.posted") return fill(T.announce, { label: entry.label, text: shorten(textOf(entry.body), 140) });
  if (msg.event !== "entry.retracted") return "";
  const text = entry.correction ? shorten(entry.correction, 140) : "";
  return fill(text ? T.announce_corrected : T.announce_retracted, { label: entry.label, text });
}

// Put an entry's <li> where it belongs in the list: the pinned entry first, then newest first (oldestFirst: oldest
// first, the reader's "Äldst först"). What is not an entry (an ad slot) stays where it is.
export function placeEntry(list, li, entry, { oldestFirst = false } = {}) {
  if (entry.pinned) return list.prepend(li);
  for (const other of list.children) {
    if (other === li || other.classList.contains("pinned") || !other.dataset.id) continue;
    const id = Number(other.dataset.id);
    if (oldestFirst ? id > entry.id : id < entry.id) return list.insertBefore(li, other);
  }
  list.append(li);
}

// Whether an entry shows in a view: a withdrawn one (retracted without a correction; the server says which) never
// does, and "Bara viktigaste" (keyOnly) shows key events and the pinned entry only.
export const inView = (entry, { keyOnly = false } = {}) =>
  !entry.withdrawn && (!keyOnly || entry.key_event || entry.pinned);

// The close codes after which a reader does not come back (docs/protocol.md): a normal close, 4100–4199.
export const endsFollowing = (code) => code === 1000 || (code >= 4100 && code < 4200);

// What a page shows in place of an incident that was deleted (the server's "deleted", docs/protocol.md): one
// notice in the page's language (T.removed), which a screen reader says too.
export function removedNotice(T) {
  const note = document.createElement("p");
  note.className = "removed";
  note.setAttribute("role", "status");
  note.textContent = T.removed;
  return note;
}

// Follow incidents. positions maps slug -> {seq, epoch} and is kept at what has been applied; onMessage gets each
// event or snapshot once, in order, and an incident's "deleted" once (drop what shows it; it is followed no more,
// and a connection that followed nothing else ends with 4101); onState(state, transport, code) hears "live",
// "reconnecting" and "offline" (with the close code when the server ended it), and whether it goes over
// "websocket" or "sse". live: the websocket URL (this page's /live when not given); base: the origin of /sse;
// query: added to both (?partner=); ends(code): whether a close code ends following (endsFollowing when not
// given). Returns {add(slug, {seq, epoch}), which follows one more incident, and stop(), which ends it for good}.
export function follow(positions, onMessage, onState, { live, base = "", query = {}, ends = endsFollowing } = {}) {
  const liveUrl = live || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live";
  const withQuery = (url, params) => {
    const search = new URLSearchParams([...params, ...Object.entries(query)]).toString();
    return search ? `${url}?${search}` : url;
  };
  let failures = 0;
  let opened = false; // a websocket that never opens means a proxy in the way: use SSE
  let useSSE = !("WebSocket" in window);
  let subscribed = false; // the current connection is subscribed and delivering
  let stopped = false;
  let timer = 0; // set while waiting to reconnect
  let socket = null;
  const state = (name, code) => onState(name, useSSE ? "sse" : "websocket", code);

  function halt() {
    stopped = true;
    subscribed = false;
    clearTimeout(timer);
    removeEventListener("offline", offline);
    removeEventListener("online", online);
  }
  function end(code) {
    halt();
    state("offline", code);
  }
  function retry() {
    subscribed = false;
    state("reconnecting");
    timer = setTimeout(connect, backoffDelay(failures++));
  }
  function dispatch(msg) {
    if (msg.type === "subscribed") {
      failures = 0;
      subscribed = true;
      return state("live");
    }
    if (msg.type === "error") return console.error(`Ticker: ${msg.code}: ${msg.message}`);
    if (msg.type === "deleted") {
      if (positions.delete(msg.incident)) onMessage(msg);
      return;
    }
    const pos = positions.get(msg.incident);
    if (!pos || (msg.type !== "event" && msg.type !== "snapshot")) return;
    if (msg.type === "event" && msg.seq <= pos.seq) return; // already applied
    pos.seq = msg.seq;
    if (msg.type === "snapshot") pos.epoch = msg.data.incident.epoch;
    onMessage(msg);
  }
  function websocket() {
    const ws = (socket = new WebSocket(withQuery(liveUrl, [])));
    ws.onopen = () => {
      opened = true;
      for (const [incident, p] of positions) {
        ws.send(JSON.stringify({ type: "subscribe", incident, since: p.seq, epoch: p.epoch }));
      }
    };
    ws.onmessage = (frame) => dispatch(JSON.parse(frame.data));
    ws.onclose = (close) => {
      subscribed = false;
      if (stopped) return;
      if (ends(close.code)) return end(close.code);
      if (!opened) {
        useSSE = true;
        return connect();
      }
      retry(); // it did open once: the server is away (a restart), keep to the websocket
    };
  }
  // One incident: /sse/{slug}, which the browser itself resumes with Last-Event-ID. Several (the front page):
  // /sse?follow=slug:seq:epoch&…, which this resumes by opening a new stream with where each incident is.
  function eventSource() {
    const many = positions.size > 1;
    const [incident, p] = positions.entries().next().value;
    const url = many
      ? withQuery(`${base}/sse`, [...positions].map(([slug, at]) => ["follow", `${slug}:${at.seq}:${at.epoch || ""}`]))
      : withQuery(`${base}/sse/${incident}`, [["since", p.seq], ["epoch", p.epoch || ""]]);
    const es = (socket = new EventSource(url));
    es.onmessage = (message) => dispatch(JSON.parse(message.data));
    es.addEventListener("close", (message) => {
      const code = JSON.parse(message.data).code;
      if (ends(code)) {
        es.close();
        end(code);
      } else if (many) {
        es.close();
        retry();
      }
    });
    es.onerror = () => {
      subscribed = false;
      // CONNECTING: the browser reconnects by itself (one incident). CLOSED: it gave up.
      if (many || es.readyState === EventSource.CLOSED) {
        es.close();
        retry();
      } else {
        state("reconnecting");
      }
    };
  }
  function connect() {
    timer = 0;
    if (stopped) return;
    if (useSSE) eventSource();
    else websocket();
  }
  function offline() {
    state("offline");
  }
  function online() {
    if (subscribed) return state("live");
    if (timer) { // back online while waiting out the backoff: try now
      clearTimeout(timer);
      failures = 0;
      connect();
    }
  }
  addEventListener("offline", offline);
  addEventListener("online", online);
  connect();
  return {
    add(incident, position) {
      positions.set(incident, position);
      if (socket instanceof WebSocket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "subscribe", incident, since: position.seq, epoch: position.epoch }));
      } else if (socket instanceof EventSource && socket.readyState !== EventSource.CLOSED) {
        socket.close(); // a stream is for the incidents it was opened with: open one for all of them
        connect();
      } // else: the connection being made, or the next one, subscribes to every position
    },
    stop() {
      halt();
      if (socket instanceof WebSocket) socket.close(1000);
      else if (socket) socket.close();
    },
  };
}
