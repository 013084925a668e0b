// Ticker embed for partner sites (docs/embeds.md):
//   <script src="https://ticker.example/static/embed.js" data-incident="slug" async></script>
// puts a <ticker-live> element after itself; its Shadow DOM draws the incident and follows it live over /live,
// or /sse/{slug} when a websocket cannot open, resuming from the last seq it applied. The only name it adds to
// the page is the element. The iframe embed (/embed/{slug}) runs this same element and reports its height to
// the host page with postMessage, aimed at the host's origin.
//
// What it shares with the reader page: web/static/live.js (filling an entry, the order of entries, the
// connection) and the helpers every page script shares (fill.js, backoff.js, clock.js), imported as modules from
// our origin (/static serves scripts with CORS, which a module from another origin needs), so it adds no name to
// the page and stays a classic script that partners paste as one line; the link cards' styles (cards.css,
// fetched); the entry markup (web/templates/_entry.html, sent by /api/embed/{slug}); the strings (ticker/i18n.py).
// It does not load reader.js, a page script that runs against our own pages' ids and sets window.Ticker.
(() => {
  "use strict";
  const script = document.currentScript;
  const BASE = new URL(script && script.src ? script.src : location.href).origin;
  const OPTIONS = ["entries", "theme", "accent", "compact", "link", "lang", "key_events", "order", "partner"];
  const CSS = `
:host { display: block !important; }
.ticker { all: initial; display: block; box-sizing: border-box; padding: .75em 1em; border: 1px solid var(--line);
  border-radius: 6px; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, sans-serif;
  --fg: #1a1a1a; --muted: #5c5c5c; --bg: #fff; --line: #e3e3e3; --accent: #c40018; --accent-fill: #c40018; }
.ticker.dark { --fg: #eee; --muted: #b0b0b0; --bg: #151515; --line: #3a3a3a; --accent: #ff5c6c; --accent-fill: #c8102e; }
@media (prefers-color-scheme: dark) {
  .ticker.auto { --fg: #eee; --muted: #b0b0b0; --bg: #151515; --line: #3a3a3a; --accent: #ff5c6c;
    --accent-fill: #c8102e; } }
.ticker * { box-sizing: border-box; }
.ticker[hidden], .ticker [hidden] { display: none; }
.head { display: flex; flex-wrap: wrap; gap: .5em; align-items: baseline; }
.badge { font-weight: 700; font-size: .8em; padding: 0 .4em; border-radius: 3px; }
.badge.live { background: var(--accent-fill); color: #fff; }
.badge.closed { background: var(--line); color: var(--fg); }
.title { flex: 1 1 12em; font-size: 1.15em; font-weight: 700; line-height: 1.25; color: var(--fg);
  text-decoration: none; }
.title:hover { text-decoration: underline; }
.conn { color: var(--muted); font-size: .8em; }
.conn[data-state="live"]::before { content: "● "; color: #1a7f37; }
.entries { list-style: none; padding: 0; margin: .5em 0 0; }
.entry { display: block; border-top: 1px solid var(--line); padding: .6em 0; }
.entry.pinned { background: color-mix(in srgb, var(--accent) 6%, transparent); padding: .6em; }
.entry-head { display: flex; gap: .15em .6em; flex-wrap: wrap; align-items: baseline; font-size: .9em;
  color: var(--muted); }
.permalink { color: var(--fg); font-weight: 700; font-size: 1.1em; text-decoration: none; }
.permalink:hover { text-decoration: underline; }
.entry.key .permalink, .pin-mark { color: var(--accent); font-weight: 700; }
.pin-mark { text-transform: uppercase; font-size: .85em; }
.byline, .edited { font-size: .95em; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
a:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.body p { margin: .3em 0; }
.entry-photo { margin: .5em 0 0; }
.entry-photo img { display: block; width: 100%; height: auto; }
.entry-photo figcaption { font-size: .8em; color: var(--muted); margin-top: .2em; }
.photos.gallery { display: grid; grid-template-columns: 1fr 1fr; gap: 0 .5em; }
.correction { font-style: italic; color: var(--muted); }
a { color: var(--accent); }
.empty { color: var(--muted); }
.removed { margin: .25em 0; font-weight: 600; }
.full { display: inline-block; margin-top: .5em; font-weight: 600; }
.ad-slot { list-style: none; margin: .8em 0; text-align: center; }
.ad-label { margin: 0 0 .2em; font-size: .75em; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.ad-slot iframe { border: 0; max-width: 100%; }
.support { margin: .8em 0; padding: .6em .8em; border: 1px solid var(--line); border-radius: .4em; }
.support h2 { font-size: 1em; margin: 0 0 .3em; }
.support p { margin: 0 0 .4em; }
.support img { display: block; background: #fff; }
.bevaka { display: inline-block; margin: .5em 0 0 1em; }
.compact { padding: .4em .6em; font-size: 14px; }
.compact .byline, .compact .edited { display: none; }
.compact .entry { padding: .35em 0; }
.compact .title { font-size: 1em; }
`;

  const $ = (selector, el) => el.querySelector(selector);

  // Our modules and the link cards' stylesheet (cards.css, also the pages'), loaded once for every element on the
  // page; a failed load is tried again on the next call.
  let modules = null;
  const cardsCss = async () => {
    const response = await fetch(`${BASE}/static/cards.css`, { credentials: "omit" });
    if (!response.ok) throw new Error(`cards.css: ${response.status}`);
    return response.text();
  };
  const loadModules = () => {
    modules = modules || Promise.all([
      import(`${BASE}/static/live.js`), import(`${BASE}/static/backoff.js`), import(`${BASE}/static/clock.js`),
      import(`${BASE}/static/fill.js`), cardsCss(),
    ]).then(([live, { backoffDelay }, clocks, { fill }, cards]) => ({ live, backoffDelay, clocks, fill, cards }));
    modules.catch(() => { modules = null; });
    return modules;
  };

  // The styles as one constructed sheet that every element's shadow root adopts, not a <style> element: a
  // Content-Security-Policy (the host page's, and ours on the iframe embed) governs style elements, not sheets
  // made through the CSSOM, so the embed needs no 'unsafe-inline' styles anywhere. Browsers without
  // constructable sheets get the element. cards: the text of cards.css, after the embed's own rules.
  let sheet = null;
  const styleRoot = (root, box, cards) => {
    if (!sheet && root.adoptedStyleSheets && CSSStyleSheet.prototype.replaceSync) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS + cards);
    }
    if (sheet) {
      root.adoptedStyleSheets = [sheet];
      root.replaceChildren(box);
    } else {
      const style = document.createElement("style");
      style.textContent = CSS + cards;
      root.replaceChildren(style, box);
    }
  };

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
      if (this.follower) this.follower.stop();
    }

    later(fn) {
      this.timer = setTimeout(fn, this.backoffDelay(this.failures++));
    }

    async load() {
      const slug = this.getAttribute("incident") || "";
      try {
        ({ live: this.live, backoffDelay: this.backoffDelay, clocks: this.clocks, fill: this.fill, cards: this.cards } =
          await loadModules());
      } catch {
        // Our origin is out of reach, and with it the shared backoff (backoff.js): try again in 5–10 s.
        console.error(`Ticker embed: could not load its modules and styles from ${BASE}/static/; trying again.`);
        this.timer = setTimeout(() => this.load(), 5000 * (1 + Math.random()));
        return;
      }
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
      if (this.stopped) return;
      this.failures = 0;
      this.draw(body);
      const partner = this.getAttribute("partner");
      const positions = new Map([[body.incident.slug, { seq: body.seq, epoch: body.incident.epoch }]]);
      this.follower = this.live.follow(positions, (msg) => this.receive(msg), (s, how) => this.status(s, how),
        { live: body.live, base: body.base, query: partner ? { partner } : {} });
    }

    draw(state) {
      this.state = state;
      this.T = state.strings;
      this.clock = this.clocks.clock(state.options.lang); // "22:37"
      const o = state.options;
      const box = document.createElement("div");
      box.className = `ticker ${o.theme}${o.compact ? " compact" : ""}`;
      box.lang = o.lang;
      if (o.accent) {
        box.style.setProperty("--accent", o.accent);
        box.style.setProperty("--accent-fill", o.accent);
      }
      // The list is not a live region (a screen reader would read every change of it); one polite region says
      // what is new or withdrawn.
      box.innerHTML = '<header class="head"><span class="badge"></span><a class="title" target="_blank"></a>' +
        '<span class="conn" role="status" hidden></span></header><p class="empty"></p>' +
        '<ol class="entries"></ol><a class="full" target="_blank"></a><a class="bevaka" target="_blank"></a>' +
        '<div class="sr-only announcer" aria-live="polite"></div>';
      $(".empty", box).textContent = this.T.no_entries;
      const full = $(".full", box);
      full.href = $(".title", box).href = state.url;
      full.textContent = this.T.full_story;
      full.hidden = !o.link;
      // "Bevaka" (Web Push) works on our own origin only: a partner's page cannot hold our service worker, so the
      // link opens the incident's page at its button (docs/embeds.md).
      const bevaka = $(".bevaka", box);
      bevaka.href = state.url + "#bevaka";
      bevaka.textContent = this.T.push_embed;
      this.template = document.createElement("template");
      this.template.innerHTML = state.template;
      this.box = box;
      this.list = $(".entries", box);
      const extras = state.extras || {};
      if (extras.swish_number) { // the support box, for the partners that show it (ticker/http/ads.py)
        const support = document.createElement("aside");
        support.className = "support";
        support.innerHTML = "<h2></h2><p></p><img>";
        $("img", support).width = $("img", support).height = extras.qr_size;
        $("h2", support).textContent = this.T.support_title;
        $("p", support).textContent = this.fill(this.T.support_text, { number: extras.swish_number });
        $("img", support).src = extras.qr_src;
        $("img", support).alt = this.fill(this.T.support_qr_alt, { number: extras.swish_number });
        full.before(support);
      }
      styleRoot(this.root, box, this.cards);
      this.live.enableCards(box); // link cards: the provider's player loads only on a click (cards.js)
      this.applyIncident(state.incident);
      for (const entry of state.entries.slice().reverse()) this.applyEntry(entry);
      this.settle();
      if (this.hasAttribute("resize") && window.parent !== window) this.reportHeight();
    }

    // Entries: a clone of _entry.html, filled and placed by live.js, with links that leave the partner's page.
    applyEntry(entry) {
      let li = this.root.getElementById("entry-" + entry.id);
      if (!this.live.inView(entry, { keyOnly: this.state.options.key_events })) {
        if (li) li.remove();
        return;
      }
      const moved = !li || li.classList.contains("pinned") !== entry.pinned;
      if (!li) li = this.template.content.firstElementChild.cloneNode(true);
      this.live.fillEntry(li, entry,
        { T: this.T, clock: this.clock, base: this.state.base, newTab: true, lang: this.state.options.lang });
      if (moved) this.live.placeEntry(this.list, li, entry, { oldestFirst: this.state.options.order === "oldest" });
    }

    settle() {
      // Show as many entries as the embed asked for; the oldest go first (at the top when oldest first).
      const entries = () => [...this.list.querySelectorAll(":scope > .entry")];
      const oldest = () => this.state.options.order === "oldest"
        ? this.list.querySelector(".entry:not(.pinned)") : entries().pop();
      while (entries().length > this.state.options.entries) oldest().remove();
      $(".empty", this.box).hidden = entries().length > 0;
      this.placeAds(entries());
    }

    // An ad slot after every ad_every entries, for the partners that show them (ticker/http/ads.py): the ad
    // server's page in a sandboxed frame, labelled.
    placeAds(entries) {
      const every = (this.state.extras || {}).ad_every;
      if (!every) return;
      const slots = [...this.list.querySelectorAll(":scope > .ad-slot")];
      const wanted = Math.floor(entries.length / every);
      while (slots.length < wanted) {
        const slot = document.createElement("li");
        slot.className = "ad-slot";
        slot.innerHTML = '<p class="ad-label"></p><iframe referrerpolicy="no-referrer" loading="lazy" width="300" height="250"></iframe>';
        $(".ad-label", slot).textContent = this.T.ad_label;
        const frame = $("iframe", slot);
        frame.setAttribute("sandbox", this.state.extras.sandbox);
        frame.title = this.T.ad_label;
        frame.src = this.state.extras.ad_src;
        slots.push(slot);
      }
      slots.forEach((slot, i) => {
        const after = entries[(i + 1) * every - 1];
        if (!after) slot.remove();
        else if (after.nextElementSibling !== slot) after.after(slot);
      });
    }

    applyIncident(incident) {
      $(".title", this.box).textContent = incident.title;
      const badge = $(".badge", this.box);
      badge.className = "badge " + incident.status;
      badge.textContent = incident.status === "live" ? this.T.live : this.T.closed;
      $(".bevaka", this.box).hidden = incident.status !== "live";
    }

    status(state, transport) {
      const conn = $(".conn", this.box);
      if (!conn) return; // the incident was deleted: the box says only that
      conn.hidden = false;
      conn.dataset.state = state;
      conn.textContent = this.T["status_" + state];
      this.box.dataset.transport = transport;
    }

    // Each event or snapshot once, in order (live.js drops what was already applied).
    receive(msg) {
      if (msg.type === "deleted") { // taken down: the box says so, and the page's own copy (the iframe's) goes too
        this.replaceChildren();
        return this.box.replaceChildren(this.live.removedNotice(this.T));
      }
      if (msg.type === "snapshot") {
        this.list.replaceChildren();
        this.applyIncident(msg.data.incident);
        for (const entry of msg.data.entries.slice().reverse()) this.applyEntry(entry);
      } else {
        if (msg.data.entry) this.applyEntry(msg.data.entry);
        if (msg.data.incident) this.applyIncident(msg.data.incident);
        const said = this.live.announcement(msg, this.T);
        if (said) $(".announcer", this.box).textContent = said;
      }
      this.settle();
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
