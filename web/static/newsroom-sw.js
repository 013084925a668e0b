// Ticker newsroom service worker (served as /desk/sw.js, scope /desk/): field mode.
// Incident desks (/desk/i/…) and their assets are fetched from the network first and kept, so that a reporter
// whose connection is gone can still reload the desk; newsroom.js's outbox then sends what was written once the
// connection is back. API calls and the live socket never pass through here. A desk page that redirects
// (to the login form: logged out, or the session expired) empties the cache, which holds that user's pages.
const CACHE = "ticker-desk";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  const page = request.mode === "navigate" && url.pathname.startsWith("/desk/i/");
  if (page || url.pathname.startsWith("/static/")) event.respondWith(networkFirst(request, page));
});

async function networkFirst(request, page) {
  try {
    const response = await fetch(request);
    if (page && (response.type === "opaqueredirect" || response.redirected)) {
      await caches.delete(CACHE);
    } else if (response.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await caches.match(request, { cacheName: CACHE });
    if (kept) return kept;
    throw error;
  }
}
