"""The reader page's "Bevaka" button in Chromium, as far as a headless browser here allows (issue 16).

Headless Chromium has no push service to reach (no internet, and Chromium's own push service is Google's), so
``pushManager.subscribe`` cannot give it a subscription. The test therefore gives the page one the way a browser
would: an init script makes ``PushManager.prototype.subscribe`` answer with a PushSubscription-shaped object for
a subscription at the test's loopback push service, with keys the test made as a browser makes them. Everything
else is the page's own: the button, the permission prompt (granted by Playwright), the service worker's
registration for /i/, fetching the VAPID key, the POST of the subscription's JSON, the alert that arrives at the
push service (decrypted with those keys), the service worker showing an alert (delivered to it through the
DevTools protocol, as a push service would), and unfollowing.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from tests.support.node import node_settings, running_node
from tests.support.push_service import push_service
from tests.support.waiting import eventually
from ticker.push.tables import PushSubscription

# What stands in for the browser's push service: subscribe() answers with the test's subscription.
FAKE_SUBSCRIBE = """
(subscription) => {
  let current = null;
  const made = () => ({
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: { applicationServerKey: null },
    toJSON: () => subscription,
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.getSubscription = async function () { return current; };
  PushManager.prototype.subscribe = async function (options) {
    if (!options || !options.userVisibleOnly || !options.applicationServerKey) throw new Error("bad options");
    current = made();
    current.options = options;
    return current;
  };
}
"""


async def followers(node: Any) -> int:
    async with node.services.store.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(PushSubscription)) or 0)


async def test_the_follow_button_subscribes_registers_the_worker_and_unfollows(
    browser: Browser, sqlite_url: str
) -> None:
    settings = node_settings(sqlite_url, fetch_allow_loopback=True, push_services="127.0.0.1", push_sweep_seconds=0.1)
    async with push_service() as service, running_node(settings) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        reader = service.browser()
        context = await browser.new_context(locale="sv-SE")
        await context.grant_permissions(["notifications"], origin=node.url)
        await context.add_init_script(f"({FAKE_SUBSCRIBE})({json.dumps(reader.subscription())})")
        page = await context.new_page()
        await page.goto(f"{node.url}/i/{slug}")

        button = page.locator("#bevaka .push-button")
        await expect(button).to_have_text("Bevaka")
        await expect(button).to_have_attribute("aria-pressed", "false")
        await button.click()
        await expect(button).to_have_text("Sluta bevaka")
        await expect(button).to_have_attribute("aria-pressed", "true")
        assert await followers(node) == 1
        # The page's service worker is registered from /sw.js for /i/, and is running.
        scope, script = await page.evaluate(
            """async () => {
                const reg = await navigator.serviceWorker.getRegistration("/i/");
                return [reg.scope, reg.active.scriptURL];
            }"""
        )
        assert (scope, script) == (f"{node.url}/i/", f"{node.url}/sw.js")
        # It subscribed with the key the node publishes (the page turned it into bytes, as subscribe() wants).
        published = (await editor.call("GET", "/api/push/key"))["public_key"]
        given = await page.evaluate(
            """async () => {
                const sub = await (await navigator.serviceWorker.getRegistration("/i/")).pushManager.getSubscription();
                return btoa(String.fromCharCode(...sub.options.applicationServerKey))
                    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
            }"""
        )
        assert given == published

        # A key event reaches the push service for this browser, readable with its keys.
        entry = (await editor.post(slug, "Branden sprider sig.", key_event=True))["entry"]
        await eventually(lambda: len(service.pushes_to(reader)) == 1)
        alert = service.pushes_to(reader)[0].alert
        assert alert["url"].endswith(f"/i/{slug}#entry-{entry['id']}")

        # Delivered to the service worker as a push service would, it shows the alert, leading to the entry.
        cdp = await context.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
        await cdp.send("ServiceWorker.enable")
        await eventually(lambda: any(r["scopeURL"] == f"{node.url}/i/" for r in registrations))
        (registration,) = {r["registrationId"] for r in registrations if r["scopeURL"] == f"{node.url}/i/"}
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": node.url, "registrationId": registration, "data": json.dumps(alert)},
        )
        shown: list[dict[str, Any]] = []

        async def notified() -> bool:
            shown[:] = await page.evaluate(
                """async () => (await (await navigator.serviceWorker.getRegistration("/i/")).getNotifications())
                    .map((n) => ({ title: n.title, body: n.body, data: n.data, actions: n.actions.length }))"""
            )
            return bool(shown)

        await eventually(notified)
        assert shown[0]["title"] == "Brand i hamnen"
        assert "Branden sprider sig." in shown[0]["body"]
        assert shown[0]["data"]["url"] == alert["url"]
        assert shown[0]["data"]["unsubscribe"] == alert["unsubscribe"]

        # Unfollowing removes the subscription; the page says so.
        await button.click()
        await expect(button).to_have_text("Bevaka")
        assert await followers(node) == 0
        await context.close()


async def test_a_closed_incident_has_no_follow_button(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        await editor.call("POST", f"/api/incidents/{slug}/close")
        page = await browser.new_page()
        await page.goto(f"{node.url}/i/{slug}")
        await expect(page.locator(".badge.closed")).to_have_count(1)
        assert await page.locator("#bevaka").count() == 0
