// The exam room's service worker: keeps the page's own files so the page
// reloads while the network is away. Network first (a new release is seen
// at once), the kept copy only when the network fails. API requests are
// never touched: the page queues answers itself.
'use strict';
const CACHE = 'examroom-shell-v1';
const SHELL = ['/exam/', '/exam/room.js', '/exam/room.css'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  let key = null;
  if (event.request.mode === 'navigate' && url.pathname === '/exam/') key = '/exam/';
  else if (SHELL.includes(url.pathname)) key = url.pathname;
  if (!key) return;
  event.respondWith(fetch(event.request).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(key, copy));
    }
    return res;
  }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});
