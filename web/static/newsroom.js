// Ticker newsroom: the incident desk (composer, outbox, live feed, review queue) and the new-incident form.
//
// Every post goes through the outbox, kept in localStorage with its Idempotency-Key: it is shown at once as
// "skickas…", sent in order, one at a time, and removed only when the server has answered with the entry. A
// post whose answer was lost is sent again with the same key and the server returns the first result, so
// nothing is published twice, and nothing is lost when the tab is reloaded or the connection drops.
import { announcement, enableCards, endsFollowing, follow } from "./live.js";
import { fillCards } from "./cards.js";

import { blobs, picker, upload } from "./desk-photos.js";
import { fillPhotos } from "./photos.js";

(() => {
  const T = JSON.parse(document.getElementById("desk-text").textContent);
  const state = JSON.parse(document.getElementById("desk-state").textContent);
  const CACHE = "ticker-desk";
  const incidentForm = document.getElementById("incident-form");
  // The photo limits (ticker.http.desk.photo_limits): the incident desk's state, or the new-incident form's.
  const photoLimits = state.photo || JSON.parse((incidentForm && incidentForm.dataset.photo) || "{}");
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

  // Field mode: the service worker keeps incident desks so that they reload without a connection.
  const desk = document.querySelector(".desk-incident");
  if (desk && "serviceWorker" in navigator && window.caches) {
    navigator.serviceWorker.register("/desk/sw.js", { scope: "/desk/" }).then(async () => {
      await navigator.serviceWorker.ready;
      const cache = await caches.open(CACHE);
      // The first visit came before the worker: keep this page and what it loads now, read from the page itself
      // (its files' URLs carry content hashes, and live.js, which this module imports, is a modulepreload).
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

  async function api(method, path, body, headers = {}) {
    const send = () => fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let response = await send();
    let data = await response.json().catch(() => ({}));
    if (response.status === 403 && data.error === "csrf" && await refreshCsrf()) {
      response = await send(); // logged in again in another tab: a new session, a new token
      data = await response.json().catch(() => ({}));
    }
    return { status: response.status, ok: response.ok, data };
  }

  async function refreshCsrf() {
    if (!desk) return false;
    const fresh = await fetch(`/desk/i/${desk.dataset.slug}/state`, { credentials: "same-origin" }).catch(() => null);
    if (!fresh || !fresh.ok) return false;
    const data = await fresh.json();
    const changed = data.csrf !== state.csrf;
    Object.assign(state, data);
    return changed;
  }

  function explain(status, data, field) {
    if (status === 401) return T.err_session;
    if (status === 403) return data.error === "csrf" ? T.err_csrf : T.err_forbidden;
    if (status === 409 && data.field === "incident") return T.err_closed;
    if (status === 409 && data.field === "entry") return T.err_retracted;
    if (status === 413) return fill(T.err_too_long, { max: state.max_chars });
    if (status === 422 && data.field === "label") return T.err_label;
    if (status === 422 && /^photos?\b/.test(data.field || "")) return photoProblem(status, data);
    if (status === 422) return fill(T.err_field, { field: field || data.field, message: data.message });
    if (status >= 500) return T.err_server;
    return fill(T.err_rejected, { message: data.message || status });
  }

  // A photo the server refused, or a photo an entry named that it did not take, in the desk's words.
  function photoProblem(status, data) {
    const code = data.error;
    const field = (data.field || "").replace(/^photos?(\[\d+\])?\.?/, "");
    if (status === 413 || code === "too_large") {
      return fill(T.err_photo_too_large, { max: Math.floor(photoLimits.max_bytes / 1048576) });
    }
    if (code === "unsupported_type") return T.err_photo_type;
    if (code === "not_an_image" || code === "empty") return T.err_photo_broken;
    if (code === "too_many_pixels") return T.err_photo_pixels;
    if (code === "too_many_uploads") return T.err_photo_rate;
    if (code === "busy") return T.err_photo_busy;
    if (field === "alt") return T.err_photo_alt;
    if (field === "credit") return T.err_photo_credit;
    if (field === "id") return T.err_photo_gone;
    if (data.field === "photos") return fill(T.err_photo_count, { max: photoLimits.max_per_entry });
    return fill(T.err_field, { field: data.field, message: data.message });
  }

  // A small formatting set, written as text: **fet**, _kursiv_, [text](https://…), "- " lists, "> " quotes.
  const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function inlineHtml(line) {
    return escapeHtml(line)
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2">$1</a>')
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[\s(])_(.+?)_(?=$|[\s).,:;!?])/g, "$1<em>$2</em>");
  }
  function toHtml(text) {
    const blocks = text.replace(/\r\n/g, "\n").split(/\n\s*\n/).map((b) => b.trim()).filter(Boolean);
    return blocks.map((block) => {
      const lines = block.split("\n");
      if (lines.every((l) => /^[-*] /.test(l))) {
        return "<ul>" + lines.map((l) => `<li>${inlineHtml(l.slice(2))}</li>`).join("") + "</ul>";
      }
      if (lines.every((l) => /^\d+\. /.test(l))) {
        return "<ol>" + lines.map((l) => `<li>${inlineHtml(l.replace(/^\d+\. /, ""))}</li>`).join("") + "</ol>";
      }
      if (lines.every((l) => /^>/.test(l))) {
        return `<blockquote><p>${lines.map((l) => inlineHtml(l.replace(/^> ?/, ""))).join("<br>")}</p></blockquote>`;
      }
      return `<p>${lines.map(inlineHtml).join("<br>")}</p>`;
    }).join("");
  }
  function toText(html) {
    const inline = (node) => [...node.childNodes].map((c) => {
      if (c.nodeType === Node.TEXT_NODE) return c.textContent;
      const inner = inline(c);
      switch (c.tagName) {
        case "BR": return "\n";
        case "STRONG": case "B": return `**${inner}**`;
        case "EM": case "I": return `_${inner}_`;
        case "A": return `[${inner}](${c.getAttribute("href")})`;
        case "P": return inner + "\n";
        default: return inner;
      }
    }).join("");
    const body = new DOMParser().parseFromString(html, "text/html").body; // inert: nothing runs or loads
    return [...body.childNodes].map((node) => {
      if (node.tagName === "UL") return [...node.children].map((li) => "- " + inline(li)).join("\n");
      if (node.tagName === "OL") return [...node.children].map((li, i) => `${i + 1}. ${inline(li)}`).join("\n");
      if (node.tagName === "BLOCKQUOTE") return inline(node).trim().split("\n").map((l) => "> " + l).join("\n");
      return node.nodeType === Node.TEXT_NODE ? node.textContent : inline(node);
    }).map((b) => b.trim()).filter(Boolean).join("\n\n");
  }

  function formatter(textarea) {
    return (kind) => {
      const { selectionStart: start, selectionEnd: end, value } = textarea;
      const picked = value.slice(start, end);
      let text;
      if (kind === "bold") text = `**${picked || T.bold}**`;
      else if (kind === "italic") text = `_${picked || T.italic}_`;
      else if (kind === "link") {
        const url = prompt(T.link_prompt, "https://");
        if (!url || !/^https?:\/\/\S+$/.test(url)) return;
        text = `[${picked || url}](${url})`;
      } else {
        const mark = kind === "list" ? "- " : "> ";
        text = (picked || "").split("\n").map((l) => mark + l).join("\n");
      }
      textarea.setRangeText(text, start, end, "end");
      textarea.dispatchEvent(new Event("input"));
      textarea.focus();
    };
  }

  if (incidentForm) {
    // The lead photo: one photo, with its alt text and credit, uploaded before the incident is opened.
    const leadPhoto = picker({ T, limits: { ...photoLimits, max_per_entry: 1 }, credit: "", onProblem: (text) => {
      const problem = incidentForm.querySelector(".problem");
      problem.textContent = text;
      problem.hidden = false;
    } });
    incidentForm.querySelector(".lead-photo-field").append(leadPhoto.element);
    leadPhoto.accept(incidentForm);
    incidentForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const problem = incidentForm.querySelector(".problem");
      const body = {};
      for (const [name, value] of new FormData(incidentForm)) {
        if (name !== "csrf" && value.trim()) body[name] = value.trim();
      }
      const lead = leadPhoto.check();
      if (lead) { problem.textContent = lead; problem.hidden = false; return; }
      const refs = await uploadAll(leadPhoto.items(), `lead-${crypto.randomUUID ? crypto.randomUUID() : Date.now()}`, (text) => {
        problem.textContent = text;
        problem.hidden = false;
      });
      if (!refs) return;
      if (refs.length) body.photo = refs[0];
      try {
        const result = await api("POST", "/api/incidents", body);
        if (result.ok) { location.href = "/desk/i/" + result.data.incident.slug; return; }
        const label = result.data.field && incidentForm.querySelector(`[name="${result.data.field}"]`);
        const name = label ? label.parentElement.firstChild.textContent.trim() : "";
        problem.textContent = explain(result.status, result.data, name);
      } catch {
        problem.textContent = T.err_network;
      }
      problem.hidden = false;
    });
  }

  if (!desk) return;

  // The incident desk.
  const slug = state.incident.slug;
  desk.dataset.slug = slug;
  const me = state.me;
  const may = state.may; // what this person's role may do (ticker/roles.py): only those controls are shown
  const list = desk.querySelector(".desk-entries");
  enableCards(list); // a card's player loads only on a click, here too
  const conn = desk.querySelector(".conn");
  const problemBar = desk.querySelector(".desk-problem");
  const announcer = document.getElementById("desk-announcer");
  const composer = document.getElementById("composer");
  const textarea = composer.querySelector("textarea");
  const labelInput = composer.elements.label;
  const preview = composer.querySelector(".preview");
  // The composer's photos: picked, shot, dropped onto it or pasted (desk-photos.js).
  const photos = picker({ T, limits: photoLimits, credit: me.name, onProblem: say });
  composer.querySelector(".composer-row").before(photos.element);
  photos.accept(composer);
  const OUTBOX = "ticker.outbox." + me.id;
  const DRAFT = `ticker.draft.${me.id}.${slug}`;
  const clock = new Intl.DateTimeFormat("sv-SE", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Stockholm" });
  const stamp = new Intl.DateTimeFormat(document.documentElement.lang === "en" ? "en-GB" : "sv-SE", {
    day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", timeZone: "Europe/Stockholm",
  });
  let mine = new Set(state.mine);
  let loggedOut = false;

  function say(text) {
    problemBar.textContent = text || "";
    problemBar.hidden = !text;
  }

  function status(text, kind) {
    conn.textContent = text;
    conn.dataset.state = kind;
  }

  // Entries.

  function el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }

  function button(text, className, onClick) {
    const b = el("button", { type: "button", className, textContent: text });
    b.addEventListener("click", onClick);
    return b;
  }

  const head = (label, ...rest) =>
    el("header", { className: "entry-head" }, el("span", { className: "label", textContent: label }), ...rest);

  const mayChange = (entry) => may.change_any_entry || (may.change_own_entry && mine.has(entry.id));

  function renderEntry(entry) {
    let li = document.getElementById("entry-" + entry.id);
    const fresh = !li;
    if (fresh) {
      li = el("li", { id: "entry-" + entry.id });
      li.dataset.id = entry.id;
    } else if (li.querySelector(".editor")) {
      // Someone changed it while this desk edits it: keep the text being typed, note the new version.
      li.dataset.latest = JSON.stringify(entry);
      return;
    }
    li.className = "entry" + (entry.pinned ? " pinned" : "") + (entry.key_event ? " key" : "") +
      (entry.retracted ? " retracted" : "");
    li.textContent = "";
    const badges = [[entry.key_event, T.key_event], [entry.pinned, T.pin], [entry.edited_at, T.edited],
      [entry.retracted, T.retracted]].filter(([on]) => on)
      .map(([, text]) => el("span", { className: "badge", textContent: text }));
    const top = head(entry.label, " ", el("span", { className: "author", textContent: entry.author }), ...badges);
    const body = entry.retracted
      ? el("div", { className: "entry-body" },
        el("p", { className: "correction", textContent: entry.correction || T.retracted }))
      : el("div", { className: "entry-body", innerHTML: entry.body }); // sanitised by the server
    if (!entry.retracted) fillCards(body, entry.cards, { T });
    const actions = el("footer", { className: "actions" });
    if (!entry.retracted && mayChange(entry)) {
      actions.append(button(T.edit, "edit", () => editEntry(li, entry)));
      actions.append(button(T.retract, "retract", () => confirmRetract(li, entry)));
    }
    if (!entry.retracted && may.pin_entry) {
      actions.append(button(entry.pinned ? T.unpin : T.pin, "pin", () =>
        act(li, "POST", `/entries/${entry.id}/${entry.pinned ? "unpin" : "pin"}`)));
    }
    actions.append(button(T.history, "show-history", () => showHistory(li, entry)));
    const note = el("p", { className: "entry-problem problem", hidden: true });
    note.setAttribute("role", "alert");
    li.append(top, body, actions, note);
    fillPhotos(li, entry, { T, after: body }); // its photos under its text, as readers see them
    if (fresh) place(li, entry);
    desk.querySelector(".no-entries").hidden = list.children.length > 0;
  }

  function place(li, entry) {
    for (const other of list.querySelectorAll(".entry")) {
      if (Number(other.dataset.id) < entry.id) { list.insertBefore(li, other); return; }
    }
    list.appendChild(li);
  }

  // What the server said of links that stayed plain links (ticker/media/cards.py): one line each.
  function cardNotes(notes) {
    return notes.map((n) => fill(T.card_note, { provider: n.provider, message: n.message })).join(" ");
  }

  function entryProblem(li, text) {
    const note = li.querySelector(".entry-problem");
    note.textContent = text || "";
    note.hidden = !text;
  }

  async function act(li, method, path, body) {
    try {
      const result = await api(method, `/api/incidents/${slug}${path}`, body ?? {});
      if (!result.ok) { entryProblem(li, explain(result.status, result.data)); return null; }
      if (result.data.entry) applyEntry(result.data.entry, true);
      const noted = result.data.entry && document.getElementById("entry-" + result.data.entry.id);
      if (noted && result.data.card_notes) entryProblem(noted, cardNotes(result.data.card_notes));
      return result.data;
    } catch {
      entryProblem(li, T.err_network);
      return null;
    }
  }

  function editEntry(li, entry) {
    const form = el("form", { className: "editor" });
    const area = el("textarea", { rows: 4, value: toText(entry.body) });
    const label = el("input", { name: "label", value: entry.label, maxLength: 16, size: 5 });
    const key = el("input", { type: "checkbox", checked: entry.key_event });
    const keyLabel = el("label", {}, key, " ", T.key_event);
    const save = el("button", { type: "submit", className: "save", textContent: T.save });
    // Its photos: kept, their texts changed, removed, or new ones added (uploaded when it is saved).
    const gallery = picker({ T, limits: photoLimits, credit: me.name, onProblem: (text) => entryProblem(li, text) });
    gallery.set(entry.photos || []);
    gallery.accept(form);
    const done = () => {
      form.remove();
      li.querySelector(".entry-body").hidden = false;
      li.querySelector(".actions").hidden = false;
      const latest = li.dataset.latest;
      delete li.dataset.latest;
      renderEntry(latest ? JSON.parse(latest) : entry);
    };
    form.append(area, gallery.element, label, keyLabel, save, button(T.cancel, "cancel", done));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const html = toHtml(area.value);
      if (!html) { entryProblem(li, T.err_empty); return; }
      const problem = gallery.check();
      if (problem) { entryProblem(li, problem); return; }
      const photos = await uploadAll(gallery.items(), `edit-${entry.id}-${newKey()}`, (text) => entryProblem(li, text));
      if (!photos) return;
      const saved = await act(li, "PATCH", `/entries/${entry.id}`,
        { body: html, label: label.value.trim(), key_event: key.checked, photos });
      if (saved) { delete li.dataset.latest; entry = saved.entry; done(); }
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
    });
    li.querySelector(".entry-body").hidden = true;
    li.querySelector(".actions").hidden = true;
    const shown = li.querySelector(":scope > .photos");
    if (shown) shown.hidden = true; // the editor shows them
    li.querySelector(".entry-head").after(form);
    area.focus();
  }

  // An editor's photos as the PATCH names them: each new one uploaded first (its progress bar filling), the rest
  // by id with their texts. null when an upload failed (the problem is said through onProblem).
  async function uploadAll(items, keyPrefix, onProblem) {
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
          result = await upload({ ...item, ...texts }, { csrf: state.csrf, key: `${keyPrefix}/${n}`,
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

  function confirmRetract(li, entry) {
    if (li.querySelector(".confirm")) return;
    const box = el("form", { className: "confirm" });
    const correction = el("input", { name: "correction", maxLength: 1000, placeholder: T.correction });
    correction.setAttribute("aria-label", T.correction);
    const yes = el("button", { type: "submit", className: "confirm-retract", textContent: T.retract });
    box.append(el("p", { textContent: T.retract_confirm }), correction, yes,
      button(T.cancel, "cancel", () => box.remove()));
    box.addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = correction.value.trim();
      if (await act(li, "POST", `/entries/${entry.id}/retract`, note ? { correction: note } : {})) box.remove();
    });
    li.querySelector(".actions").after(box);
    correction.focus();
  }

  async function showHistory(li, entry) {
    const shown = li.querySelector(".history");
    if (shown) { shown.remove(); return; }
    let result;
    try {
      result = await api("GET", `/api/incidents/${slug}/entries/${entry.id}/history`);
    } catch {
      entryProblem(li, T.err_network);
      return;
    }
    if (!result.ok) { entryProblem(li, explain(result.status, result.data)); return; }
    const ol = el("ol", { className: "history" });
    for (const change of result.data.history) {
      const action = T["action_" + change.action] || change.action;
      const what = `${stamp.format(new Date(change.at))} · ${change.by} ${action}`;
      const text = change.action === "retracted"
        ? el("div", { className: "entry-body", textContent: change.correction || "" })
        : el("div", { className: "entry-body", innerHTML: change.body }); // sanitised by the server
      ol.append(el("li", {}, el("span", { className: "what", textContent: what }), text));
    }
    li.append(ol);
  }

  function applyEntry(entry, own = false) {
    if (own) mine.add(entry.id);
    renderEntry(entry);
  }

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

  // The live feed: the same connection and events as the reader page (web/static/live.js). A desk's socket carries
  // the session: a logout, here or on another node, closes it with 4001 (session ended).

  function onMessage(msg) {
    if (msg.type === "snapshot") {
      applyIncident(msg.data.incident);
      for (const li of list.querySelectorAll(".entry")) li.remove();
      for (const entry of msg.data.entries.slice().reverse()) renderEntry(entry);
      return;
    }
    if (msg.data.entry) applyEntry(msg.data.entry);
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
      loggedOut = true;
      status(T.socket_logged_out, "closed");
      return say(T.socket_logged_out);
    }
    if (code !== undefined) return status(T.offline, "closed");
    if (name === "offline" || !navigator.onLine) return status(T.offline, "offline");
    status(T.connecting, "connecting");
  }

  // The composer and the outbox.

  const loadOutbox = () => { try { return JSON.parse(localStorage.getItem(OUTBOX)) || []; } catch { return []; } };
  const saveOutbox = (items) => localStorage.setItem(OUTBOX, JSON.stringify(items));
  const updateItem = (key, change) => saveOutbox(loadOutbox().map((i) => (i.key === key ? { ...i, ...change } : i)));
  const removeItem = (key) => saveOutbox(loadOutbox().filter((i) => i.key !== key));
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID()
    : String(Date.now()) + Math.random().toString(16).slice(2));

  function renderOutbox() {
    const items = loadOutbox().filter((i) => i.slug === slug);
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
          removeItem(item.key);
          renderOutbox();
          for (const photo of item.photos || []) { // back into the composer, with their texts
            const blob = await blobs.get(photo.blob).catch(() => undefined);
            if (blob) photos.adopt({ blob, name: photo.name, alt: photo.alt, credit: photo.credit, caption: photo.caption });
            blobs.remove(photo.blob).catch(() => {});
          }
        }));
      }
    }
    // The pending ones sit above the confirmed entries, oldest first.
    const first = list.querySelector(".entry");
    for (const item of items) {
      const li = list.querySelector(`.pending[data-key="${item.key}"]`);
      if (first) list.insertBefore(li, first); else list.append(li);
    }
    const waiting = loadOutbox().filter((i) => !i.problem).length;
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

  // A post's photos go first, each with its own Idempotency-Key ("<post's key>/<n>"), and the entry names them
  // by the ids they got: a photo sent again after a reload mid-upload is the same photo, and the entry is posted
  // once, with all of them. "done" when every photo is on the server; "later" (offline, the server busy), "wait"
  // (logged out) and "problem" (the photo was refused: the post waits for the reporter) otherwise.
  async function sendPhotos(item) {
    for (const [n, photo] of (item.photos || []).entries()) {
      if (photo.id) continue;
      const blob = await blobs.get(photo.blob).catch(() => undefined);
      if (!blob) {
        updateItem(item.key, { problem: T.err_photo_missing });
        return "problem";
      }
      let result;
      try {
        result = await upload({ ...photo, blob }, { csrf: state.csrf, key: `${item.key}/${n}`,
          onProgress: (done) => showProgress(`${item.key}/${n}`, done) });
      } catch {
        renderOutbox();
        retryLater();
        return "later";
      }
      if (result.ok) {
        photo.id = result.data.photo.id;
        updateItem(item.key, { photos: item.photos });
        continue;
      }
      if (result.status === 403 && result.data.error === "csrf" && await refreshCsrf()) return sendPhotos(item);
      if (result.status === 401) { say(T.err_session); renderOutbox(); return "wait"; }
      if (result.status >= 500 || result.status === 429 || result.status === 408) {
        say(photoProblem(result.status, result.data));
        retryLater();
        return "later";
      }
      updateItem(item.key, { problem: photoProblem(result.status, result.data) });
      return "problem";
    }
    return "done";
  }

  let flushing = false;
  let retryTimer = null;
  let sendFailures = 0;

  function retryLater() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, Math.min(30000, 1000 * 2 ** Math.min(sendFailures++, 5)));
  }

  async function flush() {
    if (flushing || loggedOut) return;
    flushing = true;
    try {
      // One sender across this user's tabs: the queue is shared through localStorage.
      const run = navigator.locks ? (work) => navigator.locks.request(OUTBOX, work) : (work) => work();
      await run(sendAll);
    } finally {
      flushing = false;
    }
  }

  async function sendAll() {
    for (;;) {
      const item = loadOutbox().find((i) => !i.problem);
      if (!item) return;
      const photosSent = await sendPhotos(item);
      if (photosSent === "problem") { renderOutbox(); continue; }
      if (photosSent !== "done") return;
      const photoRefs = (item.photos || []).map((p) => ({ id: p.id }));
      let result;
      try {
        result = await api("POST", `/api/incidents/${item.slug}/entries`,
          { body: item.body, label: item.label, key_event: item.key_event, pinned: item.pinned,
            ...(photoRefs.length ? { photos: photoRefs } : {}) },
          { "Idempotency-Key": item.key });
      } catch {
        renderOutbox();
        retryLater();
        return; // offline: the 'online' event or the retry sends it
      }
      if (result.ok) {
        sendFailures = 0;
        removeItem(item.key);
        for (const photo of item.photos || []) blobs.remove(photo.blob).catch(() => {});
        if (item.slug === slug && result.data.entry) applyEntry(result.data.entry, true);
        if (result.data.submission) { say(T.submitted); refreshQueue(); }
        if (result.data.card_notes) say(cardNotes(result.data.card_notes)); // the post stands; its links do too
        renderOutbox();
        continue;
      }
      if (result.status === 401) { say(T.err_session); renderOutbox(); return; } // kept for after the login
      if (result.status >= 500 || result.status === 429 || result.status === 408) {
        say(T.err_server);
        retryLater();
        return;
      }
      updateItem(item.key, { problem: explain(result.status, result.data, T.text) });
      renderOutbox();
    }
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
    const item = {
      key,
      photos: kept,
      slug,
      body: html,
      label: labelInput.value.trim() || clock.format(new Date()),
      key_event: composer.elements.key_event.checked,
      pinned: composer.elements.pinned ? composer.elements.pinned.checked : false,
    };
    saveOutbox([...loadOutbox(), item]);
    textarea.value = "";
    localStorage.removeItem(DRAFT);
    composer.elements.key_event.checked = false;
    if (composer.elements.pinned) composer.elements.pinned.checked = false;
    delete labelInput.dataset.touched;
    tick();
    showPreview(false);
    renderOutbox();
    flush();
  }

  function tick() {
    if (!labelInput.dataset.touched) labelInput.value = clock.format(new Date());
  }

  function showPreview(on) {
    preview.hidden = !on;
    textarea.hidden = on;
    composer.querySelector(".preview-toggle").setAttribute("aria-pressed", String(on));
    if (on) preview.innerHTML = toHtml(textarea.value); // escaped by toHtml
  }

  composer.addEventListener("submit", (event) => { event.preventDefault(); post(); });
  composer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); post(); }
  });
  const format = formatter(textarea);
  for (const b of composer.querySelectorAll("[data-format]")) {
    b.addEventListener("click", () => format(b.dataset.format));
  }
  composer.querySelector(".preview-toggle").addEventListener("click", () => showPreview(preview.hidden));
  labelInput.addEventListener("input", () => { labelInput.dataset.touched = "1"; });
  textarea.addEventListener("input", () => localStorage.setItem(DRAFT, textarea.value));
  textarea.value = localStorage.getItem(DRAFT) || "";
  tick();
  setInterval(tick, 15000);

  // The review queue: editors approve or reject contributors' posts; contributors see theirs.

  function renderQueue() {
    const section = desk.querySelector(".review");
    const ol = section.querySelector(".submissions");
    ol.textContent = "";
    for (const s of state.submissions) {
      const li = el("li", { className: "submission " + s.status });
      li.dataset.id = s.id;
      const about = ` · ${s.author} · ${T["status_" + s.status]}` + (s.reason ? `: ${s.reason}` : "");
      li.append(head(s.label, about), el("div", { className: "entry-body", innerHTML: s.body })); // sanitised
      if (may.review_submissions && s.status === "pending") {
        const reason = el("input", { placeholder: T.reject_reason, maxLength: 1000 });
        reason.setAttribute("aria-label", T.reject_reason);
        const decide = (verb, body) => async () => {
          try {
            const result = await api("POST", `/api/incidents/${slug}/submissions/${s.id}/${verb}`, body());
            if (!result.ok) { say(explain(result.status, result.data)); return; }
            if (result.data.entry) applyEntry(result.data.entry);
            state.submissions = state.submissions.filter((x) => x.id !== s.id);
            renderQueue();
          } catch {
            say(T.err_network);
          }
        };
        const why = () => (reason.value.trim() ? { reason: reason.value.trim() } : {});
        li.append(button(T.approve, "approve", decide("approve", () => ({}))), reason,
          button(T.reject, "reject", decide("reject", why)));
      }
      ol.append(li);
    }
    section.hidden = state.submissions.length === 0 && !may.review_submissions;
    if (may.review_submissions && state.submissions.length === 0) {
      ol.append(el("li", { className: "empty", textContent: T.no_pending }));
    }
  }

  async function refreshQueue() {
    try {
      const response = await fetch(`/desk/i/${slug}/state`, { credentials: "same-origin" });
      if (response.status === 401) { say(T.err_session); return; }
      if (!response.ok) return;
      Object.assign(state, await response.json());
      mine = new Set(state.mine);
      renderQueue();
      if (problemBar.textContent === T.err_session) say(""); // logged in again (in another tab)
      flush(); // what waited for the login, or for the server, goes now
    } catch {
      // offline: the next round tries again
    }
  }

  for (const entry of state.entries.slice().reverse()) renderEntry(entry);
  renderQueue();
  renderOutbox();
  window.addEventListener("online", () => {
    sendFailures = 0;
    renderOutbox();
    flush();
  });
  window.addEventListener("offline", () => renderOutbox());
  window.addEventListener("storage", (event) => { if (event.key === OUTBOX) renderOutbox(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshQueue(); });
  setInterval(refreshQueue, 15000);
  status(T.connecting, "connecting");
  const positions = new Map([[slug, { seq: state.seq, epoch: state.incident.epoch }]]);
  follow(positions, onMessage, onState, { ends: (code) => code === 4001 || endsFollowing(code) });
  flush();
})();
