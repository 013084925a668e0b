// The desk's small shared helpers for the sources panel and page (ES module): JSON calls with the session's
// CSRF token, element building, and a refusal in words.

// state: the page's #desk-state ({csrf}); read on each call, as another tab may have logged in again.
export async function api(method, path, body, headers = {}) {
  const { csrf } = JSON.parse(document.getElementById("desk-state").textContent);
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { status: response.status, ok: response.ok, data };
}

export const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

// T: the page's words; form: where the field named in a 422 has its label.
export function explain(T, result, form) {
  const { status, data } = result;
  if (status === 403) return T.err_forbidden;
  if (status === 422 && data.field) {
    const input = form && form.querySelector(`[name="${data.field}"]`);
    const label = input ? input.closest("label").firstChild.textContent.trim() : data.field;
    return fill(T.err_field, { field: label, message: data.message });
  }
  return fill(T.err_rejected, { message: data.message || status });
}
