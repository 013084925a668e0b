// The review queue (ES module): editors approve or reject contributors' posts; contributors see theirs.
import { api } from "./desk-api.js";
import { button, el } from "./desk-dom.js";
import { head } from "./desk-entries.js";

// section: the desk's .review; state: the desk's (its submissions); may: what the role may do; explain: a refusal
// in words; say(text): the desk's problem bar; onEntry(entry): an approval made it.
export function reviewQueue({ section, T, state, may, explain, say, onEntry }) {
  const slug = state.incident.slug;
  const ol = section.querySelector(".submissions");

  function render() {
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
            if (result.data.entry) onEntry(result.data.entry);
            state.submissions = state.submissions.filter((x) => x.id !== s.id);
            render();
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

  return { render };
}
