// The service worker for Web Push (registered by js/notifyswitch.js as a module, scope the
// dashboard's folder): shows each pushed event as a notification, and a click on one brings a
// dashboard window to the alert. No fetch handler: the page loads as it would without it.
import { parsePayload, notificationFor, pickClient } from "./js/push.js";

self.addEventListener("push", (event) => {
  const text = event.data ? event.data.text() : "";
  const { title, options } = notificationFor(parsePayload(text), self.registration.scope, text);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, alertId } = event.notification.data || {};
  event.waitUntil((async () => {
    // The page may have loaded before this worker existed, so it is not controlled by it.
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const client = pickClient(windows, self.registration.scope);
    if (!client) return self.clients.openWindow(url || self.registration.scope);
    await client.focus();
    if (alertId) client.postMessage({ kind: "focus-alert", alertId });
  })());
});

// A new version takes over at once: it holds no state that an old page depends on.
self.addEventListener("install", () => self.skipWaiting());
