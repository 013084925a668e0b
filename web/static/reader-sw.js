// The reader's service worker: served at /sw.js and registered for /i/ by follow.js ("Bevaka"). It keeps no
// pages and answers no requests; it shows the alerts the server pushes (ticker/push/sender.py writes them: title,
// body, url, tag, unsubscribe) and opens the incident at the entry when one is clicked. Its "Sluta bevaka"
// action ends the incident's alerts through the unsubscribe link every alert carries.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let alert = {};
  try {
    alert = event.data ? event.data.json() : {};
  } catch {
    alert = { title: event.data.text() };
  }
  const options = {
    body: alert.body || "",
    tag: alert.tag,
    renotify: Boolean(alert.tag),
    icon: "/static/logo.png",
    requireInteraction: Boolean(alert.urgent),
    data: { url: alert.url || "/", unsubscribe: alert.unsubscribe || null },
    actions: alert.unsubscribe ? [{ action: "unsubscribe", title: alert.unsubscribe_label || "Sluta bevaka" }] : [],
  };
  event.waitUntil(self.registration.showNotification(alert.title || "Ticker", options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, unsubscribe } = event.notification.data || {};
  if (event.action === "unsubscribe" && unsubscribe) {
    // The unsubscribe page's own POST, then the page, which says the alerts have ended.
    event.waitUntil(fetch(unsubscribe, { method: "POST", credentials: "omit" })
      .catch(() => null).then(() => self.clients.openWindow(unsubscribe)));
    return;
  }
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url.split("#")[0] === url.split("#")[0]);
    if (open && "navigate" in open) return (await open.navigate(url)).focus();
    return self.clients.openWindow(url);
  })());
});
