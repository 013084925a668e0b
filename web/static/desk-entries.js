// The incident desk's entries (ES module): each as the desk shows it, with what this person's role may do to it
// (edit, retract, pin, its history), kept in place as events and answers come.
import { api, newKey } from "./desk-api.js";
import { fillCards } from "./cards.js";
import { button, el } from "./desk-dom.js";
import { toHtml, toText } from "./desk-format.js";
import { picker, uploadAll } from "./desk-photos.js";
import { fill } from "./fill.js";
import { fillPhotos } from "./photos.js";

// An entry's or a pending post's head: its label, then the rest.
export const head = (label, ...rest) =>
  el("header", { className: "entry-head" }, el("span", { className: "label", textContent: label }), ...rest);

// desk: the .desk-incident element; list: its entries; T, state (the desk's), may (what the role may do);
// refusals: desk-refusals.js's; photoLimits: state.photo; stamp: a history change's time in words.
export function entryList({ desk, list, T, state, may, refusals, photoLimits, stamp }) {
  const { explain, photoProblem } = refusals;
  const slug = state.incident.slug;
  const me = state.me;
  let mine = new Set(state.mine);

  const mayChange = (entry) => may.change_any_entry || (may.change_own_entry && mine.has(entry.id));

  function render(entry) {
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
      if (result.data.entry) apply(result.data.entry, true);
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
      render(latest ? JSON.parse(latest) : entry);
    };
    form.append(area, gallery.element, label, keyLabel, save, button(T.cancel, "cancel", done));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const html = toHtml(area.value);
      if (!html) { entryProblem(li, T.err_empty); return; }
      const problem = gallery.check();
      if (problem) { entryProblem(li, problem); return; }
      const photos = await uploadAll(gallery.items(), `edit-${entry.id}-${newKey()}`,
        { T, csrf: state.csrf, photoProblem, onProblem: (text) => entryProblem(li, text) });
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
      const what = `${stamp(change.at)} · ${change.by} ${action}`;
      const text = change.action === "retracted"
        ? el("div", { className: "entry-body", textContent: change.correction || "" })
        : el("div", { className: "entry-body", innerHTML: change.body }); // sanitised by the server
      ol.append(el("li", {}, el("span", { className: "what", textContent: what }), text));
    }
    li.append(ol);
  }

  // An entry from an event, a snapshot or an answer; own: this person's (they may change it).
  function apply(entry, own = false) {
    if (own) mine.add(entry.id);
    render(entry);
  }

  return {
    apply,
    cardNotes,
    // A snapshot's entries, in place of every entry shown.
    replace(entries) {
      for (const li of list.querySelectorAll(".entry")) li.remove();
      for (const entry of entries.slice().reverse()) render(entry);
    },
    // The entries this person wrote, as the server knows them now.
    know(ids) { mine = new Set(ids); },
  };
}
