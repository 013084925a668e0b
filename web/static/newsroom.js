// Ticker newsroom: the page wiring of the desk (ES module). On every desk page: field mode's service worker, the
// logout, the new-incident form. On an incident desk: its entries (desk-entries.js), the composer and the outbox
// (desk-composer.js, desk-outbox.js), the review queue (desk-queue.js), and the live feed that keeps them current
// (live.js, as on the reader page).
import { clock, stamp } from "./clock.js";
import { api, newKey, state } from "./desk-api.js";
import { composer } from "./desk-composer.js";
import { entryList } from "./desk-entries.js";
import { createOutbox } from "./desk-outbox.js";
import { picker, uploadAll } from "./desk-photos.js";
import { reviewQueue } from "./desk-queue.js";
import { deskRefusals } from "./desk-refusals.js";
import { announcement, enableCards, endsFollowing, follow } from "./live.js";

const T = JSON.parse(document.getElementById("desk-text").textContent);
const CACHE = "ticker-desk";
const incidentForm = document.getElementById("incident-form");
// The photo limits (ticker.http.desk.photo_limits): the incident desk's state, or the new-incident form's.
const photoLimits = state.photo || JSON.parse((incidentForm && incidentForm.dataset.photo) || "{}");
const { explain, photoProblem } = deskRefusals(T, state, photoLimits);
const desk = document.querySelector(".desk-incident");

// Field mode: the service worker keeps incident desks so that they reload without a connection.
if (desk && "serviceWorker" in navigator && window.caches) {
  navigator.serviceWorker.register("/desk/sw.js", { scope: "/desk/" }).then(async () => {
    await navigator.serviceWorker.ready;
    const cache = await caches.open(CACHE);
    // The first visit came before the worker: keep this page and what it loads now, read from the page itself
    // (its files' URLs carry content hashes, and the modules this one imports are modulepreloads).
    const loaded = document.querySelectorAll(
      "script[src], link[rel=stylesheet][href], link[rel=modulepreload][href]");
    await cache.addAll([location.pathname + location.search, ...[...loaded].map((el) => el.src || el.href)]);
    desk.dataset.offlineReady = "true";
  }).catch(() => {});
}
for (const form of document.querySelectorAll("form.logout")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (window.caches) await caches.delete(CACHE); // kept pages hold this user's data
    form.submit();
  });
}

if (incidentForm) newIncidentForm(incidentForm);
if (desk) incidentDesk(desk);

function newIncidentForm(form) {
  const problem = form.querySelector(".problem");
  const show = (text) => {
    problem.textContent = text;
    problem.hidden = false;
  };
  // The lead photo: one photo, with its alt text and credit, uploaded before the incident is opened.
  const leadPhoto = picker({ T, limits: { ...photoLimits, max_per_entry: 1 }, credit: "", onProblem: show });
  form.querySelector(".lead-photo-field").append(leadPhoto.element);
  leadPhoto.accept(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, value] of new FormData(form)) {
      if (name !== "csrf" && value.trim()) body[name] = value.trim();
    }
    const lead = leadPhoto.check();
    if (lead) { show(lead); return; }
    const refs = await uploadAll(leadPhoto.items(), `lead-${newKey()}`,
      { T, csrf: state.csrf, photoProblem, onProblem: show });
    if (!refs) return;
    if (refs.length) body.photo = refs[0];
    try {
      const result = await api("POST", "/api/incidents", body);
      if (result.ok) { location.href = "/desk/i/" + result.data.incident.slug; return; }
      const label = result.data.field && form.querySelector(`[name="${result.data.field}"]`);
      const name = label ? label.parentElement.firstChild.textContent.trim() : "";
      problem.textContent = explain(result.status, result.data, name);
    } catch {
      problem.textContent = T.err_network;
    }
    problem.hidden = false;
  });
}

function incidentDesk(desk) {
  const slug = state.incident.slug;
  const me = state.me;
  const may = state.may; // what this person's role may do (ticker/roles.py): only those controls are shown
  const list = desk.querySelector(".desk-entries");
  enableCards(list); // a card's player loads only on a click, here too
  const conn = desk.querySelector(".conn");
  const problemBar = desk.querySelector(".desk-problem");
  const announcer = document.getElementById("desk-announcer");

  function say(text) {
    problemBar.textContent = text || "";
    problemBar.hidden = !text;
  }

  function status(text, kind) {
    conn.textContent = text;
    conn.dataset.state = kind;
  }

  const entries = entryList({ desk, list, T, state, may, refusals: { explain, photoProblem }, photoLimits,
    stamp: stamp(document.documentElement.lang) });
  const queue = reviewQueue({ section: desk.querySelector(".review"), T, state, may, explain, say,
    onEntry: (entry) => entries.apply(entry) });
  const outbox = createOutbox({
    user: me.id, T, explain, photoProblem, say,
    onChange: () => form.showOutbox(),
    onProgress: (id, done) => form.showProgress(id, done),
    onPosted(item, data) {
      if (item.slug === slug && data.entry) entries.apply(data.entry, true);
      if (data.submission) { say(T.submitted); refreshQueue(); }
      if (data.card_notes) say(entries.cardNotes(data.card_notes)); // the post stands; its links do too
    },
  });
  const form = composer({ form: document.getElementById("composer"), desk, list, T, state, photoLimits, outbox,
    clock: clock("sv"), say });

  function applyIncident(incident) {
    state.incident = incident;
    desk.querySelector(".desk-title").textContent = incident.title;
    const live = incident.status === "live";
    const badge = desk.querySelector(".status-badge");
    badge.className = "status-badge " + incident.status;
    badge.textContent = live ? "LIVE" : T.closed_badge;
    desk.querySelector(".closed-note").hidden = live;
    const close = desk.querySelector(".close-incident");
    const reopen = desk.querySelector(".reopen-incident");
    if (close) close.hidden = !live;
    if (reopen) reopen.hidden = live;
  }

  for (const [selector, action] of [[".close-incident", "close"], [".reopen-incident", "reopen"]]) {
    const b = desk.querySelector(selector);
    if (!b) continue;
    b.addEventListener("click", async () => {
      try {
        const result = await api("POST", `/api/incidents/${slug}/${action}`, {});
        if (result.ok) applyIncident(result.data.incident);
        else say(explain(result.status, result.data));
      } catch {
        say(T.err_network);
      }
    });
  }

  // The live feed: the same connection and events as the reader page (web/static/live.js). A desk's socket
  // carries the session: a logout, here or on another node, closes it with 4001 (session ended).

  function onMessage(msg) {
    if (msg.type === "snapshot") {
      applyIncident(msg.data.incident);
      entries.replace(msg.data.entries);
      return;
    }
    if (msg.data.entry) entries.apply(msg.data.entry);
    if (msg.data.incident) applyIncident(msg.data.incident);
    // Others' new entries and every retraction are said; this desk's own posts show as they are sent.
    const entry = msg.data.entry;
    if (entry && !(msg.event === "entry.posted" && entry.author === me.name)) {
      const said = announcement(msg, T);
      if (said) announcer.textContent = said;
    }
  }

  function onState(name, _transport, code) {
    if (name === "live") return status(T.live, "live");
    if (code === 4001) {
      outbox.halt();
      status(T.socket_logged_out, "closed");
      return say(T.socket_logged_out);
    }
    if (code !== undefined) return status(T.offline, "closed");
    if (name === "offline" || !navigator.onLine) return status(T.offline, "offline");
    status(T.connecting, "connecting");
  }

  // The desk's state again: the queue, which entries are this person's, and whether the session is back.
  async function refreshQueue() {
    try {
      const response = await fetch(`/desk/i/${slug}/state`, { credentials: "same-origin" });
      if (response.status === 401) { say(T.err_session); return; }
      if (!response.ok) return;
      Object.assign(state, await response.json());
      entries.know(state.mine);
      queue.render();
      if (problemBar.textContent === T.err_session) say(""); // logged in again (in another tab)
      outbox.flush(); // what waited for the login, or for the server, goes now
    } catch {
      // offline: the next round tries again
    }
  }

  entries.replace(state.entries);
  queue.render();
  form.showOutbox();
  window.addEventListener("online", () => outbox.online());
  window.addEventListener("offline", () => form.showOutbox());
  window.addEventListener("storage", (event) => { if (event.key === outbox.key) form.showOutbox(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshQueue(); });
  setInterval(refreshQueue, 15000);
  status(T.connecting, "connecting");
  const positions = new Map([[slug, { seq: state.seq, epoch: state.incident.epoch }]]);
  follow(positions, onMessage, onState, { ends: (code) => code === 4001 || endsFollowing(code) });
  outbox.flush();
}
