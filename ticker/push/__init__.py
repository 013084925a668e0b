"""Web Push alerts for readers who follow an incident ("Bevaka"), without an account and without a cookie.

A reader's browser subscribes with the Push API (its service worker is web/static/reader-sw.js) and gives us the
subscription: the push service's address and the browser's keys (ticker.push.subscriptions). A key event, an
entry that becomes one, the incident's close or an editor's urgent alert adds one row to ``push_alerts`` in the
write's own transaction (ticker.push.alerts), so an alert is as durable as the event and never made twice. Each
node's sender (ticker.push.sender) turns an alert into one delivery per subscription and sends the deliveries it
claims through SQL, so however many nodes run, each subscription is sent each alert once; the requests are signed
with the installation's VAPID key, which is made once and kept in SQL (ticker.push.keys), and encrypted for each
browser (RFC 8291) by pywebpush.
"""
