// The desk's "Läsartips" queue (ES module): readers' tips and questions, live on the "Händelser" panel's stream
// (desk-sources.js passes every message on as a "desk-stream" event; the server sends tips to editors' panels
// only). The panel's first message has the open tips ({tips}); each change comes as {type: "tips", tips}, a tip's
// version growing with each, one that is gone as {id, state: "deleted"}. An editor answers a tip as an entry
// ("Fråga från en läsare: … Svar: …"), dismisses it, or deletes it and everything the reader sent.
import { stamp } from "./clock.js";
import { api } from "./desk-api.js";
import { button, el, placeNewestFirst } from "./desk-dom.js";
import { explainRefusal as explain } from "./desk-refusals.js";
import { fill } from "./fill.js";

const section = document.getElementById("reader-tips");
if (section) start(section);

function start(section) {
  const all = JSON.parse(document.getElementById("sources-text").textContent); // the panel's words: rt_* are ours
  const T = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.replace(/^rt_/, ""), v]));
  // The live incidents (slug -> title) a general tip's answer may go to: the desk index lists them.
  const incidents = JSON.parse(document.getElementById("reader-tips-incidents").textContent).map((slug) => ({
    slug, title: document.querySelector(`.incident-list a.open-desk[href="/desk/i/${slug}"]`)?.textContent || slug,
  }));
  const list = section.querySelector(".reader-tips-list");
  const empty = section.querySelector(".reader-tips-empty");
  const problem = section.querySelector(".reader-tips-problem");
  const announcer = document.getElementById("reader-tips-announcer");
  const tips = new Map(); // id -> the newest version shown
  const when = stamp("sv", { month: "short" });

  function say(text) {
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  async function act(method, path, body) {
    try {
      const result = await api(method, path, body);
      if (!result.ok) return say(explain(T, result)), null;
      say("");
      return result;
    } catch {
      say(T.err_network);
      return null;
    }
  }

  function render(tip) {
    const li = el("li", { className: "reader-tip " + tip.kind });
    li.dataset.id = tip.id;
    const head = el("div", { className: "tip-head" },
      el("span", { className: "badge " + tip.kind, textContent: T[tip.kind] }),
      tip.incident
        ? el("a", { className: "tip-incident", href: "/desk/i/" + tip.incident, textContent: tip.incident_title })
        : el("span", { className: "tip-incident", textContent: T.general }),
      el("time", { className: "tip-time", dateTime: tip.created_at, textContent: when(tip.created_at) }));
    const from = tip.name ? fill(T.from, { name: tip.name }) + (tip.may_name ? ` (${T.may_name})` : "") : T.anonymous;
    li.append(head, el("p", { className: "tip-body", textContent: tip.body }), el("p", { className: "tip-from", textContent: from }));
    if (tip.contact) li.append(el("p", { className: "tip-contact", textContent: fill(T.contact, { contact: tip.contact }) }));
    if (tip.photo) li.append(el("img", { className: "tip-photo", src: tip.photo, alt: T.photo }));
    const remove = button(T.delete, "delete", async () => {
      if (remove.dataset.armed !== "yes") { // a second click deletes: nothing is lost by one slip
        remove.dataset.armed = "yes";
        remove.textContent = T.delete_confirm;
        return;
      }
      if (await act("DELETE", `/api/tips/${tip.id}`)) apply({ id: tip.id, state: "deleted" });
    });
    li.append(el("div", { className: "tip-actions" },
      button(T.answer, "answer", () => answerForm(li, tip)),
      button(T.discard, "discard", async () => {
        const result = await act("POST", `/api/tips/${tip.id}/discard`, {});
        if (result) apply(result.data.tip);
      }),
      remove));
    return li;
  }

  function answerForm(li, tip) {
    if (li.querySelector(".answer-form")) return li.querySelector(".answer-form textarea").focus();
    const key = crypto.randomUUID(); // one form, one entry: a retry answers with the first
    const form = el("form", { className: "answer-form" });
    const note = el("p", { className: "problem", hidden: true });
    form.append(el("label", {}, T.answer_label + " ", el("textarea", { name: "answer", rows: 3, required: true })));
    if (!tip.incident) {
      const select = el("select", { name: "incident", required: true });
      for (const incident of incidents) select.append(el("option", { value: incident.slug, textContent: incident.title }));
      form.append(el("label", {}, T.answer_incident + " ", select));
    }
    if (tip.may_name) {
      form.append(el("label", { className: "check" }, el("input", { type: "checkbox", name: "with_name", checked: true }),
        " " + T.with_name));
    }
    form.append(note, el("div", { className: "buttons" },
      el("button", { type: "submit", className: "publish", textContent: T.publish }),
      button(T.cancel, "cancel", () => form.remove())));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = { answer: data.get("answer").trim(), with_name: data.get("with_name") === "on" };
      if (data.get("incident")) body.incident = data.get("incident");
      try {
        const result = await api("POST", `/api/tips/${tip.id}/answer`, body, { "Idempotency-Key": key });
        if (result.ok) return apply({ ...tip, state: "answered", version: tip.version + 1 });
        note.textContent = explain(T, result, form);
      } catch {
        note.textContent = T.err_network;
      }
      note.hidden = false;
    });
    li.append(form);
    form.querySelector("textarea").focus();
  }

  function apply(tip) {
    const known = tips.get(tip.id);
    if (known && tip.version !== undefined && known.version > tip.version) return; // a newer copy is shown
    const shown = list.querySelector(`li[data-id="${tip.id}"]`);
    if (tip.state !== "new") {
      tips.delete(tip.id);
      if (shown) shown.remove();
    } else {
      tips.set(tip.id, tip);
      const li = render(tip);
      const form = shown && shown.querySelector(".answer-form");
      if (form) li.append(form); // an editor's half-written answer stays
      if (shown) shown.replaceWith(li);
      else placeNewestFirst(list, li, tip.id);
    }
    empty.hidden = tips.size > 0;
  }

  document.addEventListener("desk-stream", (event) => {
    const message = event.detail;
    if (message.type === "panel" && message.tips) {
      tips.clear();
      list.textContent = "";
      for (const tip of message.tips) apply(tip);
      empty.hidden = tips.size > 0;
    } else if (message.type === "tips") {
      const said = [];
      for (const tip of message.tips) {
        if (!tips.has(tip.id) && tip.state === "new") said.push(fill(T.announce, { text: tip.body.slice(0, 140) }));
        apply(tip);
      }
      if (said.length) announcer.textContent = said.join(" ");
    }
  });
}
