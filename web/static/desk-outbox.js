// The reporter's outbox (ES module): every post is kept in localStorage with its Idempotency-Key before it is
// sent, sent in order, one at a time, and removed only when the server has answered with the entry. A post whose
// answer was lost is sent again with the same key and the server returns the first result, so nothing is
// published twice, and nothing is lost when the tab is reloaded or the connection drops. One outbox per user,
// shared by their tabs (one sender at a time, through a Web Lock), holding the posts of every incident.
//
// A post's photos go first, each with its own Idempotency-Key ("<post's key>/<n>"), kept in IndexedDB until then
// (desk-photos.js), and the entry names them by the ids they got: a photo sent again after a reload mid-upload is
// the same photo, and the entry is posted once, with all of them.
import { api, refreshCsrf, state } from "./desk-api.js";
import { blobs, upload } from "./desk-photos.js";

// user: the reporter's id; T: the desk's strings; explain and photoProblem: refusals in words (desk-refusals.js);
// say(text): the desk's problem bar; onChange(): the outbox changed (show it); onProgress(id, done): a photo's
// upload ("<key>/<n>", 0..1); onPosted(item, data): the server took a post (data: its answer).
export function createOutbox({ user, T, explain, photoProblem, say, onChange, onProgress, onPosted }) {
  const KEY = "ticker.outbox." + user;
  const load = () => { try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch { return []; } };
  const save = (items) => localStorage.setItem(KEY, JSON.stringify(items));
  const update = (key, change) => save(load().map((i) => (i.key === key ? { ...i, ...change } : i)));
  const remove = (key) => save(load().filter((i) => i.key !== key));

  let flushing = false;
  let retryTimer = null;
  let sendFailures = 0;
  let halted = false; // logged out: what waits is kept for after the login

  function retryLater() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, Math.min(30000, 1000 * 2 ** Math.min(sendFailures++, 5)));
  }

  async function flush() {
    if (flushing || halted) return;
    flushing = true;
    try {
      // One sender across this user's tabs: the queue is shared through localStorage.
      const run = navigator.locks ? (work) => navigator.locks.request(KEY, work) : (work) => work();
      await run(sendAll);
    } finally {
      flushing = false;
    }
  }

  // A post's photos: "done" when every one is on the server; "later" (offline, the server busy), "wait" (logged
  // out) and "problem" (a photo was refused: the post waits for the reporter) otherwise.
  async function sendPhotos(item) {
    for (const [n, photo] of (item.photos || []).entries()) {
      if (photo.id) continue;
      const blob = await blobs.get(photo.blob).catch(() => undefined);
      if (!blob) {
        update(item.key, { problem: T.err_photo_missing });
        return "problem";
      }
      let result;
      try {
        result = await upload({ ...photo, blob }, { csrf: state.csrf, key: `${item.key}/${n}`,
          onProgress: (done) => onProgress(`${item.key}/${n}`, done) });
      } catch {
        onChange();
        retryLater();
        return "later";
      }
      if (result.ok) {
        photo.id = result.data.photo.id;
        update(item.key, { photos: item.photos });
        continue;
      }
      if (result.status === 403 && result.data.error === "csrf" && await refreshCsrf()) return sendPhotos(item);
      if (result.status === 401) { say(T.err_session); onChange(); return "wait"; }
      if (result.status >= 500 || result.status === 429 || result.status === 408) {
        say(photoProblem(result.status, result.data));
        retryLater();
        return "later";
      }
      update(item.key, { problem: photoProblem(result.status, result.data) });
      return "problem";
    }
    return "done";
  }

  async function sendAll() {
    for (;;) {
      const item = load().find((i) => !i.problem);
      if (!item) return;
      const photosSent = await sendPhotos(item);
      if (photosSent === "problem") { onChange(); continue; }
      if (photosSent !== "done") return;
      const photoRefs = (item.photos || []).map((p) => ({ id: p.id }));
      let result;
      try {
        result = await api("POST", `/api/incidents/${item.slug}/entries`,
          { body: item.body, label: item.label, key_event: item.key_event, pinned: item.pinned,
            ...(photoRefs.length ? { photos: photoRefs } : {}) },
          { "Idempotency-Key": item.key });
      } catch {
        onChange();
        retryLater();
        return; // offline: the 'online' event or the retry sends it
      }
      if (result.ok) {
        sendFailures = 0;
        remove(item.key);
        for (const photo of item.photos || []) blobs.remove(photo.blob).catch(() => {});
        onPosted(item, result.data);
        onChange();
        continue;
      }
      if (result.status === 401) { say(T.err_session); onChange(); return; } // kept for after the login
      if (result.status >= 500 || result.status === 429 || result.status === 408) {
        say(T.err_server);
        retryLater();
        return;
      }
      update(item.key, { problem: explain(result.status, result.data, T.text) });
      onChange();
    }
  }

  return {
    key: KEY, // localStorage's: another tab's change comes as a "storage" event with it
    items: load,
    add: (item) => save([...load(), item]),
    remove,
    flush,
    online() { // back online: send now, without waiting out the backoff
      sendFailures = 0;
      onChange();
      flush();
    },
    halt() { halted = true; },
  };
}
