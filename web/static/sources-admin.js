// The sources page (ES module): admins add, change, pause and remove sources through /api/sources.
import { stamp } from "./clock.js";
import { api } from "./desk-api.js";
import { explainRefusal as explain } from "./desk-refusals.js";

const T = JSON.parse(document.getElementById("sources-text").textContent);
const when = stamp("sv", { month: "short", second: true });
for (const time of document.querySelectorAll(".source time")) time.textContent = when(time.dateTime);

const form = document.getElementById("source-form");
const heading = document.getElementById("source-form-title");
let editing = null; // the source being changed; null: a new one

const words = (text) => text.split(",").map((w) => w.trim()).filter(Boolean);

async function send(method, path, body) {
  const problem = form ? form.querySelector(".problem") : null;
  try {
    const result = await api(method, path, body);
    if (result.ok) return location.reload();
    if (problem) {
      problem.textContent = explain(T, result, form);
      problem.hidden = false;
    }
  } catch {
    if (problem) {
      problem.textContent = T.err_network;
      problem.hidden = false;
    }
  }
}

if (form) {
  const kind = form.elements.kind;
  const hint = () => {
    const option = kind.selectedOptions[0];
    form.elements.url.placeholder = option.dataset.example;
    form.elements.places.placeholder = option.dataset.places;
  };
  kind.addEventListener("change", hint);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      name: form.elements.name.value.trim(),
      kind: kind.value,
      url: form.elements.url.value.trim(),
      interval_seconds: Number(form.elements.interval_seconds.value),
      places: words(form.elements.places.value),
      types: words(form.elements.types.value),
      enabled: form.elements.enabled.checked,
    };
    if (editing) send("PATCH", `/api/sources/${editing.id}`, body);
    else send("POST", "/api/sources", body);
  });
  form.querySelector(".cancel-edit").addEventListener("click", () => location.reload());
  for (const li of document.querySelectorAll(".source")) {
    const source = JSON.parse(li.dataset.source);
    li.querySelector(".edit-source")?.addEventListener("click", () => {
      editing = source;
      heading.textContent = heading.dataset.edit;
      for (const name of ["name", "url", "interval_seconds"]) form.elements[name].value = source[name];
      kind.value = source.kind;
      form.elements.places.value = source.places.join(", ");
      form.elements.types.value = source.types.join(", ");
      form.elements.enabled.checked = source.enabled;
      form.querySelector(".cancel-edit").hidden = false;
      form.scrollIntoView();
    });
    li.querySelector(".toggle-source")?.addEventListener("click", () => {
      send("PATCH", `/api/sources/${source.id}`, { enabled: !source.enabled });
    });
    li.querySelector(".remove-source")?.addEventListener("click", () => {
      if (confirm(T.remove_confirm)) send("DELETE", `/api/sources/${source.id}`);
    });
  }
}
