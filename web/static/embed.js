// Ticker embed for partner sites (docs/embeds.md):
//   <script src="https://ticker.example/static/embed.js" data-incident="slug" async></script>
// puts a <ticker-live> element after itself; its Shadow DOM draws the incident and follows it live over /live,
// or /sse/{slug} when a websocket cannot open, resuming from the last seq it applied. The only name it adds to
// the page is the element. The iframe embed (/embed/{slug}) runs this same element and reports its height to
// the host page with postMessage, aimed at the host's origin.
//
// Why not reader.js: it is a page script: it looks up the page's own ids, runs on load against the document and
// sets window.Ticker, none of which may happen on a partner's page, and its URLs are relative to our origin.
// What it shares with the reader page: the entry markup (web/templates/_entry.html, sent by /api/embed/{slug}),
// the strings (ticker/i18n.py), the wire protocol and the fold (docs/protocol.md).
(() => {
  "use strict";
  const script = document.currentScript;
  const BASE = new URL(script && script.src ? script.src : location.href).origin;
  const OPTIONS = ["entries", "theme", "accent", "compact", "link", "lang", "partner"];
  const CSS = `
:host { display: block !important; }
.ticker { all: initial; display: block; box-sizing: border-box; padding: .75em 1em; border: 1px solid var(--line);
  border-radius: 6px; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, sans-serif;
  --fg: #1a1a1a; --muted: #5c5c5c; --bg: #fff; --line: #e3e3e3; --accent: #c40018; }
.ticker.dark { --fg: #eee; --muted: #b0b0b0; --bg: #151515; --line: #333; --accent: #ff5c6c; }
@media (prefers-color-scheme: dark) {
  .ticker.auto { --fg: #eee; --muted: #b0b0b0; --bg: #151515; --line: #333; --accent: #ff5c6c; } }
.ticker * { box-sizing: border-box; }
.ticker[hidden], .ticker [hidden] { display: none; }
.head { display: flex; flex-wrap: wrap; gap: .5em; align-items: baseline; }
.badge { font-weight: 700; font-size: .8em; padding: 0 .4em; border-radius: 3px; }
.badge.live { background: var(--accent); color: #fff; }
.badge.closed { background: var(--line); color: var(--fg); }
.title { flex: 1 1 12em; font-size: 1.15em; font-weight: 700; line-height: 1.25; color: var(--fg);
  text-decoration: none; }
.title:hover { text-decoration: underline; }
.conn { color: var(--muted); font-size: .8em; }
.conn[data-state="live"]::before { content: "● "; color: #1a7f37; }
.entries { list-style: none; padding: 0; margin: .5em 0 0; }
.entry { display: block; border-top: 1px solid var(--line); padding: .6em 0; }
.entry.pinned { background: color-mix(in srgb, var(--accent) 6%, transparent); padding: .6em; }
.entry-head { display: flex; gap: .6em; flex-wrap: wrap; font-size: .9em; }
.label { font-weight: 700; }
.entry.key .label, .pin-mark { color: var(--accent); font-weight: 700; }
.byline, .entry-foot { color: var(--muted); font-size: .85em; }
.entry-foot { display: flex; gap: .6em; }
.body p { margin: .3em 0; }
.correction { font-style: italic; color: var(--muted); }
a { color: var(--accent); }
.empty { color: var(--muted); }
.full { display: inline-block; margin-top: .5em; font-weight: 600; }
.compact { padding: .4em .6em; font-size: 14px; }
.compact .byline, .compact .entry-foot { display: none; }
.compact .entry { padding: .35em 0; }
.compact .title { font-size: 1em; }
`;

  const $ = (selector, el) => el.querySelector(selector);

  class TickerLive extends HTMLElement {
    connectedCallback() {
      if (this.root) return;
      this.root = this.attachShadow({ mode: "open" });
      this.stopped = false;
      this.failures = 0;
      this.load();
    }

    disconnectedCallback() {
      this.stopped = true;
      clearTimeout(this.timer);
      if (this.ws) this.ws.close(1000);
      if (this.es) this.es.close();
    }

    later(fn) {
      const delay = Math.min(30000, 500 * 2 ** this.failures++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(fn, delay);
    }

    async load() {
      const slug = this.getAttribute("incident") || "";
      const query = new URLSearchParams();
      for (const name of OPTIONS) if (this.hasAttribute(name)) query.set(name, this.getAttribute(name));
      const pageLang = document.documentElement.lang.slice(0, 2).toLowerCase(); // the host page's language
      if (!query.has("lang") && (pageLang === "sv" || pageLang === "en")) query.set("lang", pageLang);
      let response;
      try {
        response = await fetch(`${BASE}/api/embed/${encodeURIComponent(slug)}?${query}`, { credentials: "omit" });
      } catch {
        // A refused origin gets 403 without a CORS header, which a page sees as a network error.
        console.error(`Ticker embed: could not load incident "${slug}" from ${BASE}. If this persists, the ` +
          `origin ${location.origin} is probably not registered for it (the network panel shows a 403).`);
        return this.later(() => this.load());
      }
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        console.error(`Ticker embed: ${response.status} ${body.error || ""}: ${body.message || ""}` +
          (body.field ? ` (${body.field})` : ""));
        if (response.status >= 500) this.later(() => this.load());
        return;
      }
      this.failures = 0;
      this.draw(body);
      this.connect();
    }

    draw(state) {
      this.state = state;
      this.T = state.strings;
      this.seq = state.seq;
      this.epoch = state.incident.epoch;
      this.useSSE = !("WebSocket" in window);
      this.clock = new Intl.DateTimeFormat(state.options.lang === "en" ? "en-GB" : "sv-SE",
        { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "Europe/Stockholm" });
      const o = state.options;
      const style = document.createElement("style");
      style.textContent = CSS;
      const box = document.createElement("div");
      box.className = `ticker ${o.theme}${o.compact ? " compact" : ""}`;
      box.lang = o.lang;
      if (o.accent) box.style.setProperty("--accent", o.accent);
      box.innerHTML = '<header class="head"><span class="badge"></span><a class="title" target="_blank"></a>' +
        '<span class="conn" role="status" hidden></span></header><p class="empty"></p>' +
        '<ol class="entries" aria-live="polite"></ol><a class="full" target="_blank"></a>';
      $(".empty", box).textContent = this.T.no_entries;
      const full = $(".full", box);
      full.href = $(".title", box).href = state.url;
      full.textContent = this.T.full_story;
      full.hidden = !o.link;
      this.template = document.createElement("template");
      this.template.innerHTML = state.template;
      this.box = box;
      this.list = $(".entries", box);
      this.root.replaceChildren(style, box);
      this.applyIncident(state.incident);
      for (const entry of state.entries.slice().reverse()) this.applyEntry(entry);
      this.settle();
      if (this.hasAttribute("resize") && window.parent !== window) this.reportHeight();
    }

    // Entries: a clone of _entry.html filled as reader.js fills it, with links that leave the partner's page.
    fillEntry(li, entry) {
      const T = this.T;
      li.id = "entry-" + entry.id;
      li.dataset.id = entry.id;
      li.className = "entry" + (entry.pinned ? " pinned" : "") + (entry.key_event ? " key" : "") +
        (entry.retracted ? " retracted" : "");
      $(".pin-mark", li).hidden = !entry.pinned;
      const label = $(".label", li);
      label.textContent = T.update_label + " " + entry.label;
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
        for (const a of body.querySelectorAll("a")) a.target = "_blank";
      }
      const permalink = $(".permalink", li);
      permalink.href = `${this.state.base}/i/${entry.incident}/e/${entry.id}`;
      permalink.target = "_blank";
      const edited = $(".edited", li);
      edited.hidden = !entry.edited_at;
      if (entry.edited_at) {
        edited.setAttribute("datetime", entry.edited_at);
        edited.textContent = T.edited + " " + this.clock.format(new Date(entry.edited_at));
      }
    }

    applyEntry(entry) {
      let li = this.root.getElementById("entry-" + entry.id);
      if (entry.retracted && !entry.correction) {
        if (li) li.remove();
        return;
      }
      const moved = !li || li.classList.contains("pinned") !== entry.pinned;
      if (!li) li = this.template.content.firstElementChild.cloneNode(true);
      this.fillEntry(li, entry);
      if (moved) this.place(li, entry);
    }

    place(li, entry) {
      // The pinned entry first, then newest first.
      if (entry.pinned) return this.list.prepend(li);
      for (const other of this.list.children) {
        if (other !== li && !other.classList.contains("pinned") && Number(other.dataset.id) < entry.id) {
          return this.list.insertBefore(li, other);
        }
      }
      this.list.append(li);
    }

    settle() {
      // Show as many entries as the embed asked for; the oldest go first.
      while (this.list.children.length > this.state.options.entries) this.list.lastElementChild.remove();
      $(".empty", this.box).hidden = this.list.children.length > 0;
    }

    applyIncident(incident) {
      $(".title", this.box).textContent = incident.title;
      const badge = $(".badge", this.box);
      badge.className = "badge " + incident.status;
      badge.textContent = incident.status === "live" ? this.T.live : this.T.closed;
    }

    status(state) {
      const conn = $(".conn", this.box);
      conn.hidden = false;
      conn.dataset.state = state;
      conn.textContent = this.T["status_" + state];
      this.box.dataset.transport = this.useSSE ? "sse" : "websocket";
    }

    // The connection: the same protocol, resume and backoff as the reader page.
    receive(msg) {
      if (msg.type === "subscribed") {
        this.failures = 0;
        return this.status("live");
      }
      if (msg.type === "error") return console.error(`Ticker embed: ${msg.code}: ${msg.message}`);
      if (msg.incident !== this.state.incident.slug) return;
      if (msg.type === "snapshot") {
        this.seq = msg.seq;
        this.epoch = msg.data.incident.epoch;
        this.list.replaceChildren();
        this.applyIncident(msg.data.incident);
        for (const entry of msg.data.entries.slice().reverse()) this.applyEntry(entry);
      } else if (msg.type === "event") {
        if (msg.seq <= this.seq) return; // already applied
        this.seq = msg.seq;
        if (msg.data.entry) this.applyEntry(msg.data.entry);
        if (msg.data.incident) this.applyIncident(msg.data.incident);
      }
      this.settle();
    }

    retry() {
      if (this.stopped) return;
      this.status("reconnecting");
      this.later(() => this.connect());
    }

    final(code) {
      if (code === 1000 || (code >= 4100 && code < 4200)) {
        this.status("offline");
        return true;
      }
      return false;
    }

    connect() {
      if (this.stopped) return;
      const slug = this.state.incident.slug;
      const partner = this.getAttribute("partner");
      if (this.useSSE) {
        const query = new URLSearchParams({ since: this.seq, epoch: this.epoch });
        if (partner) query.set("partner", partner);
        const es = (this.es = new EventSource(`${this.state.base}/sse/${slug}?${query}`));
        es.onmessage = (message) => this.receive(JSON.parse(message.data));
        es.addEventListener("close", (message) => {
          es.close();
          if (!this.final(JSON.parse(message.data).code)) this.retry();
        });
        es.onerror = () => {
          // CONNECTING: the browser reconnects by itself with Last-Event-ID. CLOSED: it gave up.
          if (es.readyState === EventSource.CLOSED) this.retry();
          else this.status("reconnecting");
        };
        return;
      }
      // A websocket that has never opened on this page means a proxy in the way: use SSE. One that did open and
      // now fails means the server is away (a restart): keep trying the websocket.
      const ws = (this.ws = new WebSocket(this.state.live + (partner ? "?partner=" + encodeURIComponent(partner) : "")));
      ws.onopen = () => {
        this.wsOpened = true;
        ws.send(JSON.stringify({ type: "subscribe", incident: slug, since: this.seq, epoch: this.epoch }));
      };
      ws.onmessage = (frame) => this.receive(JSON.parse(frame.data));
      ws.onclose = (close) => {
        if (this.stopped || this.final(close.code)) return;
        if (!this.wsOpened) {
          this.useSSE = true;
          return this.connect();
        }
        this.retry();
      };
    }

    // Inside the iframe embed: tell the host page our height, aimed at the host's origin only.
    reportHeight() {
      const ancestors = location.ancestorOrigins;
      let target = ancestors && ancestors.length ? ancestors[0] : "";
      if (!target && document.referrer) target = new URL(document.referrer).origin;
      if (!target || target === "null") return;
      const report = () => {
        const height = Math.ceil(this.getBoundingClientRect().height);
        window.parent.postMessage({ type: "ticker:height", incident: this.state.incident.slug, height }, target);
      };
      new ResizeObserver(report).observe(this);
    }
  }

  if (!customElements.get("ticker-live")) customElements.define("ticker-live", TickerLive);
  if (script && script.dataset.incident) {
    const element = document.createElement("ticker-live");
    element.setAttribute("incident", script.dataset.incident);
    for (const name of OPTIONS) if (name in script.dataset) element.setAttribute(name, script.dataset[name]);
    script.after(element);
  }
})();
