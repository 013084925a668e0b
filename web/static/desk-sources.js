// The desk's "Händelser" panel (ES module): items from the public sources, live over /desk/sources/stream.
//
// The stream starts with the whole panel ({type: "panel", items, sources}) and then sends each change: items
// new, changed by their source, or dismissed, watched or made a ticker on any desk ({type: "items"}), and the
// sources' status ({type: "sources"}). An item's version grows with each change, so an older copy never
// replaces a newer one. Editors dismiss, watch, or start a ticker from an item: a form prefilled with its
// title, summary, place and link and a first entry citing the source, all editable before publishing.
import { backoffDelay } from "./backoff.js";
import { stamp } from "./clock.js";
import { api } from "./desk-api.js";
import { button, el, placeNewestFirst } from "./desk-dom.js";
import { explainRefusal as explain } from "./desk-refusals.js";
import { fill } from "./fill.js";

const panel = document.getElementById("tips");
if (panel) start(panel);

function start(panel) {
  const T = JSON.parse(document.getElementById("sources-text").textContent);
  const editor = panel.dataset.editor === "true";
  const list = panel.querySelector(".tips-list");
  const announcer = document.getElementById("tips-announcer"); // says new and changed items, not the whole list
  const conn = panel.querySelector(".tips-conn");
  const empty = panel.querySelector(".tips-empty");
  const problem = panel.querySelector(".tips-problem");
  const sourcesLink = panel.querySelector(".tips-sources");
  const items = new Map(); // id -> the newest version shown
  const sources = new Map();
  const when = stamp("sv", { month: "short" });

  function say(text) {
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  function setState(name, text) {
    conn.dataset.state = name;
    conn.textContent = text;
  }

  function badge(kind, text) {
    return el("span", { className: "badge " + kind, textContent: text });
  }

  function render(item) {
    const li = el("li", { className: "tip" });
    li.classList.toggle("vma", item.vma);
    li.classList.toggle("changed", item.revision > 1);
    li.classList.toggle("watched", item.state === "watched");
    li.dataset.id = item.id;
    li.dataset.revision = item.revision;
    const at = item.published_at || item.first_seen_at;
    const head = el("div", { className: "tip-head" }, el("span", { className: "tip-source", textContent: item.source.cited }));
    if (item.type) head.append(el("span", { className: "tip-type", textContent: item.type }));
    if (item.place) head.append(el("span", { className: "tip-place", textContent: item.place }));
    head.append(el("time", { className: "tip-time", dateTime: at, textContent: when(at) }));
    if (item.vma) head.append(badge("vma", T.vma));
    if (item.revision > 1) head.append(badge("changed", T.changed));
    if (item.state === "watched") head.append(badge("watched", T.watched));
    const title = el("h3", { className: "tip-title" });
    title.append(item.url ? el("a", { href: item.url, target: "_blank", rel: "noopener noreferrer", textContent: item.title })
      : item.title);
    li.append(head, title);
    if (item.summary) li.append(el("p", { className: "tip-summary", textContent: item.summary }));
    if (item.incident) {
      li.append(el("p", { className: "tip-ticker" }, el("a", { href: "/desk/i/" + item.incident, textContent: T.ticker_started })));
    }
    if (editor) {
      const actions = el("div", { className: "tip-actions" });
      if (!item.incident) actions.append(button(T.start_ticker, "start-ticker", () => tickerForm(li, item)));
      const watched = item.state === "watched";
      actions.append(
        button(watched ? T.unwatch : T.watch, "watch", () => setItem(item, watched ? "new" : "watched")),
        button(T.dismiss, "dismiss", () => setItem(item, "dismissed")),
      );
      li.append(actions);
    }
    return li;
  }

  function apply(item) {
    const known = items.get(item.id);
    if (known && known.version > item.version) return; // a newer copy is shown already
    const shown = list.querySelector(`li[data-id="${item.id}"]`);
    if (item.state === "dismissed") {
      items.delete(item.id);
      if (shown) shown.remove();
    } else {
      items.set(item.id, item);
      const li = render(item);
      const form = shown && shown.querySelector(".ticker-form");
      if (form && !item.incident) li.append(form); // an editor's half-filled form stays
      if (shown) shown.replaceWith(li);
      else placeNewestFirst(list, li, item.id);
    }
    empty.hidden = items.size > 0;
  }

  function showSources() {
    const all = [...sources.values()];
    const failing = all.filter((s) => s.enabled && s.last_error);
    let text = T.sources_link + " · " + fill(T.sources_status, { count: all.length });
    if (failing.length) text += " · " + fill(T.sources_problem, { count: failing.length });
    sourcesLink.textContent = text;
    sourcesLink.classList.toggle("failing", failing.length > 0);
    sourcesLink.title = failing.map((s) => `${s.name}: ${s.last_error}`).join("\n");
  }

  async function setItem(item, state) {
    try {
      const result = await api("POST", `/api/sources/items/${item.id}/state`, { state });
      if (!result.ok) return say(explain(T, result));
      say("");
      apply(result.data.item);
    } catch {
      say(T.err_network);
    }
  }

  function tickerForm(li, item) {
    if (li.querySelector(".ticker-form")) return li.querySelector(".ticker-form input").focus();
    const form = el("form", { className: "ticker-form" });
    const key = crypto.randomUUID(); // one form, one incident: a second click or a retry answers the first
    const field = (name, label, value, { tag = "input", max, type } = {}) => {
      const input = el(tag, { name, value: (value || "").slice(0, max) });
      if (max) input.maxLength = max;
      if (type) input.type = type;
      if (tag === "textarea") input.rows = 3;
      return el("label", {}, label + " ", input);
    };
    const text = fill(T.according_to, { source: item.source.cited, text: item.summary || item.title });
    const note = el("p", { className: "problem", hidden: true });
    const cancel = button(T.cancel, "cancel", () => form.remove());
    form.append(
      el("h4", { textContent: T.form_title }),
      field("title", T.title, item.title, { max: 200 }),
      field("summary", T.summary, item.summary, { tag: "textarea", max: 2000 }),
      el("div", { className: "row" }, field("location", T.location, item.place, { max: 120 }),
        field("category", T.category, item.type, { max: 60 })),
      field("source_url", T.source_url, item.url, { max: 500, type: "url" }),
      field("entry", T.first_entry, text, { tag: "textarea" }),
      note,
      el("div", { className: "buttons" }, el("button", { type: "submit", className: "publish", textContent: T.publish }), cancel),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const [name, value] of new FormData(form)) body[name] = value.trim();
      if (!body.source_url) delete body.source_url;
      try {
        const result = await api("POST", `/api/sources/items/${item.id}/ticker`, body, { "Idempotency-Key": key });
        if (result.ok) {
          location.href = "/desk/i/" + result.data.incident.slug;
          return;
        }
        note.textContent = explain(T, result, form);
      } catch {
        note.textContent = T.err_network;
      }
      note.hidden = false;
    });
    li.append(form);
    form.querySelector("input").focus();
  }

  function handle(message) {
    if (message.type === "panel") {
      items.clear();
      list.textContent = "";
      for (const item of message.items) apply(item);
      empty.hidden = items.size > 0;
      sources.clear();
    }
    if (message.type === "items") {
      const said = [];
      for (const item of message.items) {
        const known = items.get(item.id);
        const news = item.state !== "dismissed" && (!known || item.revision > known.revision);
        apply(item);
        if (news) {
          const text = known ? T.announce_changed : T.announce_new;
          said.push(fill(text, { source: item.source.cited, title: item.title }));
        }
      }
      if (said.length) announcer.textContent = said.join(" ");
    }
    if (message.type === "panel" || message.type === "sources") {
      for (const source of message.sources) sources.set(source.id, source);
      showSources();
    }
  }

  // The stream: the browser resumes it by itself after a dropped connection (the server then sends the whole
  // panel again); after a refusal or a close event, this tries again with a growing, jittered wait.
  let failures = 0;
  let timer = 0;
  function connect() {
    const stream = new EventSource("/desk/sources/stream");
    stream.onmessage = (message) => {
      const parsed = JSON.parse(message.data);
      if (parsed.type === "panel") {
        failures = 0;
        setState("live", T.live);
      }
      handle(parsed);
      // The same stream carries the readers' tips to editors (desk-tips.js listens).
      document.dispatchEvent(new CustomEvent("desk-stream", { detail: parsed }));
    };
    stream.addEventListener("close", (message) => {
      stream.close();
      if (JSON.parse(message.data).code === 4001) return setState("closed", T.logged_out);
      retry();
    });
    stream.onerror = () => {
      if (stream.readyState === EventSource.CLOSED) {
        stream.close();
        retry();
      } else {
        setState("reconnecting", T.reconnecting);
      }
    };
  }
  function retry() {
    setState("reconnecting", T.reconnecting);
    clearTimeout(timer);
    timer = setTimeout(connect, backoffDelay(failures++));
  }
  setState("connecting", T.connecting);
  connect();
}
