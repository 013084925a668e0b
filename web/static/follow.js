// "Bevaka": Web Push alerts about one incident, without an account and without a cookie (docs/reader.md).
// The button subscribes the browser with the Push API (the service worker is /sw.js, registered for /i/, see
// reader-sw.js) using the site's VAPID key, and hands the subscription to the server for this incident; the
// unsubscribe token the server answers with is kept in localStorage, which never leaves the browser. Where the
// browser has no Push API the box says so; without JavaScript it stays hidden.
const box = document.getElementById("bevaka");
if (box) setUp(box);

function base64urlBytes(text) {
  const padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const mine = new Uint8Array(buffer);
  return mine.length === bytes.length && mine.every((b, i) => b === bytes[i]);
}

function setUp(box) {
  const stringsEl = document.getElementById("ticker-strings");
  const T = stringsEl ? JSON.parse(stringsEl.textContent) : {};
  const slug = box.dataset.incident;
  const lang = box.dataset.lang === "en" ? "en" : "sv";
  const button = box.querySelector(".push-button");
  const status = box.querySelector(".push-status");
  const stored = "ticker.push." + slug;
  const show = (following, message) => {
    button.setAttribute("aria-pressed", String(following));
    button.textContent = following ? T.push_unfollow : T.push_follow;
    box.dataset.state = following ? "on" : "off";
    status.textContent = message;
  };
  box.hidden = false;
  if (!("serviceWorker" in navigator && "PushManager" in window && "Notification" in window)) {
    button.hidden = true;
    status.textContent = T.push_unsupported;
    return;
  }
  const token = localStorage.getItem(stored);
  show(Boolean(token), token ? T.push_on : T.push_hint);
  if (token) { // removed meanwhile (the notification's "Sluta bevaka", or a 410 from the push service)?
    fetch(`/api/push/subscriptions/${encodeURIComponent(token)}`, { credentials: "omit" }).then((response) => {
      if (response.status === 404) {
        localStorage.removeItem(stored);
        show(false, T.push_hint);
      }
    }, () => {});
  }
  if (location.hash === "#bevaka") button.focus(); // the embed's link leads here

  async function registration() {
    const reg = await navigator.serviceWorker.register("/sw.js", { scope: "/i/" });
    await navigator.serviceWorker.ready;
    return reg;
  }

  async function start() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return show(false, T.push_denied);
    const reg = await registration();
    const answer = await fetch("/api/push/key", { credentials: "omit" });
    if (!answer.ok) throw new Error(`GET /api/push/key: ${answer.status}`);
    const key = base64urlBytes((await answer.json()).public_key);
    let subscription = await reg.pushManager.getSubscription();
    if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made with another key: the push service would refuse ours
      subscription = null;
    }
    if (!subscription) {
      subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    const response = await fetch(`/api/incidents/${encodeURIComponent(slug)}/subscriptions`, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...subscription.toJSON(), lang }),
    });
    if (!response.ok) throw new Error(`subscribe: ${response.status}`);
    localStorage.setItem(stored, (await response.json()).subscription.token);
    show(true, T.push_on);
  }

  async function stop() {
    const token = localStorage.getItem(stored);
    const response = await fetch(`/api/push/subscriptions/${encodeURIComponent(token)}`,
      { method: "DELETE", credentials: "omit" });
    if (!response.ok && response.status !== 404) throw new Error(`unsubscribe: ${response.status}`);
    localStorage.removeItem(stored);
    // The browser's subscription serves every incident it follows: end it only with the last one.
    const others = Object.keys(localStorage).some((name) => name.startsWith("ticker.push."));
    const reg = await navigator.serviceWorker.getRegistration("/i/");
    const subscription = reg && (await reg.pushManager.getSubscription());
    if (subscription && !others) await subscription.unsubscribe();
    show(false, T.push_off);
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await (localStorage.getItem(stored) ? stop() : start());
    } catch (error) {
      console.error("Ticker: Bevaka", error);
      show(Boolean(localStorage.getItem(stored)), T.push_failed);
    } finally {
      button.disabled = false;
    }
  });
}
