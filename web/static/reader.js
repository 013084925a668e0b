// Ticker reader: follows one incident over /live and applies its events in place.
// Resumes from the seq embedded in the page; ignores any event it already has.
(() => {
  "use strict";
  const root = document.getElementById("incident");
  if (!root || !("WebSocket" in window)) return;
  const T = JSON.parse(document.getElementById("ticker-strings").textContent);
  const slug = root.dataset.incident;
  const list = root.querySelector(".entries");
  const conn = root.querySelector(".conn");
  const clock = new Intl.DateTimeFormat(root.dataset.lang === "en" ? "en-GB" : "sv-SE", {
    hour: "2-digit", minute: "2-digit", timeZone: "Europe/Stockholm",
  });
  const stamp = new Intl.DateTimeFormat(root.dataset.lang === "en" ? "en-GB" : "sv-SE", {
    day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "Europe/Stockholm",
  });
  let seq = Number(root.dataset.seq);
  let epoch = root.dataset.epoch;
  let failures = 0;

  function status(kind) {
    conn.hidden = false;
    conn.dataset.state = kind;
    conn.textContent = T["status_" + kind];
  }

  function entryNode(entry) {
    const li = document.createElement("li");
    li.id = "entry-" + entry.id;
    li.dataset.id = entry.id;
    li.innerHTML =
      '<header class="entry-head"><span class="pin-mark"></span><time class="label"></time> ' +
      '<span class="byline"></span></header><div class="body"></div>' +
      '<footer class="entry-foot"><a class="permalink">#</a> <time class="edited"></time></footer>';
    li.querySelector(".pin-mark").textContent = T.pinned;
    li.querySelector(".byline").textContent = T.by + " " + entry.author;
    li.querySelector(".permalink").href = "#entry-" + entry.id;
    li.querySelector(".permalink").setAttribute("aria-label", T.permalink);
    return li;
  }

  function fill(li, entry) {
    li.className = "entry" + (entry.pinned ? " pinned" : "") + (entry.key_event ? " key" : "") +
      (entry.retracted ? " retracted" : "");
    li.hidden = entry.retracted && !entry.correction;
    li.querySelector(".pin-mark").hidden = !entry.pinned;
    const label = li.querySelector(".label");
    label.textContent = T.update + " " + entry.label;
    label.setAttribute("datetime", entry.created_at);
    const body = li.querySelector(".body");
    if (entry.retracted) {
      body.textContent = "";
      const note = document.createElement("p");
      note.className = "correction";
      note.textContent = entry.correction || T.retracted;
      body.appendChild(note);
    } else {
      body.innerHTML = entry.body; // sanitised by the server on the way in
    }
    const edited = li.querySelector(".edited");
    edited.hidden = !entry.edited_at;
    if (entry.edited_at) {
      edited.setAttribute("datetime", entry.edited_at);
      edited.textContent = T.edited + " " + clock.format(new Date(entry.edited_at));
    }
  }

  function place(li, entry) {
    // Pinned first, then newest first.
    if (entry.pinned) { list.prepend(li); return; }
    for (const other of list.children) {
      if (other !== li && !other.classList.contains("pinned") && Number(other.dataset.id) < entry.id) {
        list.insertBefore(li, other);
        return;
      }
    }
    list.appendChild(li);
  }

  function applyEntry(entry) {
    let li = document.getElementById("entry-" + entry.id);
    const moved = !li || li.classList.contains("pinned") !== entry.pinned;
    if (!li) li = entryNode(entry);
    fill(li, entry);
    if (moved) place(li, entry);
    keyEvents();
    root.querySelector(".empty").hidden = list.children.length > 0;
  }

  function keyEvents() {
    const box = root.querySelector(".key-events");
    const ul = box.querySelector("ul");
    ul.textContent = "";
    const keys = [...list.querySelectorAll(".entry.key:not(.retracted)")]
      .sort((a, b) => Number(b.dataset.id) - Number(a.dataset.id));
    for (const li of keys) {
      const item = document.createElement("li");
      item.dataset.id = li.dataset.id;
      const a = document.createElement("a");
      a.href = "#" + li.id;
      a.textContent = li.querySelector(".label").textContent.replace(T.update + " ", "");
      item.appendChild(a);
      ul.appendChild(item);
    }
    box.hidden = keys.length === 0;
  }

  function applyIncident(incident) {
    root.querySelector(".title").textContent = incident.title;
    const badge = root.querySelector(".badge");
    badge.className = "badge " + incident.status;
    badge.textContent = incident.status === "live" ? T.live : T.closed;
  }

  function touched(at) {
    const updated = root.querySelector(".updated");
    updated.setAttribute("datetime", at);
    updated.textContent = stamp.format(new Date(at)).replace(" kl. ", " ").replace(" at ", " ");
  }

  function onEvent(msg) {
    if (msg.seq <= seq) return; // already applied
    seq = msg.seq;
    if (msg.data.entry) applyEntry(msg.data.entry);
    if (msg.data.incident) applyIncident(msg.data.incident);
    touched(msg.at);
  }

  function onSnapshot(msg) {
    list.textContent = "";
    seq = msg.seq;
    epoch = msg.data.incident.epoch;
    applyIncident(msg.data.incident);
    for (const entry of msg.data.entries.slice().reverse()) applyEntry(entry);
    touched(msg.data.incident.updated_at);
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live");
    ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", incident: slug, since: seq, epoch }));
    ws.onmessage = (frame) => {
      const msg = JSON.parse(frame.data);
      if (msg.type === "subscribed") { failures = 0; status("live"); }
      else if (msg.type === "event") onEvent(msg);
      else if (msg.type === "snapshot") onSnapshot(msg);
    };
    ws.onclose = (close) => {
      if (close.code >= 4100 && close.code < 4200) { status("offline"); return; }
      status("reconnecting");
      const delay = Math.min(30000, 500 * 2 ** failures++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }

  status("connecting");
  connect();
})();
