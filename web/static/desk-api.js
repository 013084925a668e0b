// The desk's calls to its own API (ES module): JSON with the session's CSRF token. The page's state (#desk-state:
// {csrf}, and on an incident desk its incident, entries, submissions and limits) is read once and kept here,
// shared by the desk's modules; a 403 "csrf" means the user logged in again in another tab (a new session, a new
// token): an incident desk takes its state again and the call is sent once more.
export const state = JSON.parse(document.getElementById("desk-state").textContent);

export async function api(method, path, body, headers = {}) {
  const send = () => fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response = await send();
  let data = await response.json().catch(() => ({}));
  if (response.status === 403 && data.error === "csrf" && await refreshCsrf()) {
    response = await send();
    data = await response.json().catch(() => ({}));
  }
  return { status: response.status, ok: response.ok, data };
}

// The incident desk's state again (GET /desk/i/{slug}/state); true when it brought a new CSRF token.
export async function refreshCsrf() {
  if (!state.incident) return false;
  const fresh = await fetch(`/desk/i/${state.incident.slug}/state`, { credentials: "same-origin" }).catch(() => null);
  if (!fresh || !fresh.ok) return false;
  const data = await fresh.json();
  const changed = data.csrf !== state.csrf;
  Object.assign(state, data);
  return changed;
}

// A new Idempotency-Key.
export const newKey = () => (crypto.randomUUID ? crypto.randomUUID()
  : String(Date.now()) + Math.random().toString(16).slice(2));
