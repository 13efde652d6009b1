/* The live page behind a proxy that blocks WebSockets: the same messages over SSE, then by polling.
 *
 * A page element with `data-fallback="/events/<slug>"` follows its WebSocket (htmx's ws extension,
 * kept by regie.js). When that socket cannot open, or delivers nothing, this script reads the very
 * same messages from `<base>/sse` (an EventSource), and if that stays silent too, polls
 * `<base>/fragments` with If-None-Match every few seconds. Each message is swapped exactly as the
 * ws extension swaps it (hx-swap-oob fragments, through htmx's own oobSwap), so regie.js's ordering
 * applies to all three paths. WebSocket is retried all along, more slowly while a fallback delivers,
 * and the fallback stops as soon as the socket delivers again. While a fallback delivers, the
 * page never says « connexion perdue » (regie.js reads `data-fallback-live`).
 * Loaded after regie.js; no eval, no inline code (the CSP forbids both).
 */
(function () {
  'use strict';

  var HEARTBEAT = '<span id="live-beat" hidden></span>';
  // A page whose socket delivered nothing this long after loading is behind a blocking proxy.
  var FIRST_WAIT_MS = 5000;
  // A socket that delivered and then stopped is first a network drop (regie.js says « reconnexion »
  // at 8 s and reconnects); only if it stays down this long is a fallback tried. A frontend restart
  // must not move every viewer to SSE at once.
  var LOST_WAIT_MS = 15000;
  // The hub beats every 3 s on SSE as on WebSocket: silent this long, the stream is not delivering.
  var SILENCE_MS = 8000;
  // Polling within the 10 s promised: every 4 s, so an update shows within 4 s plus one request.
  var POLL_MS = 4000;
  // While a fallback delivers, the WebSocket is tried again this often (with jitter).
  var WS_RETRY_MS = 20000;

  var api = null;
  htmx.defineExtension('regie-fallback', { init: function (internal) { api = internal; } });

  var pages = [];

  // What htmx's ws extension does with a message (vendor/ws.js), nothing more.
  function swap(p, text) {
    if (!api || text === HEARTBEAT) return;
    var settleInfo = api.makeSettleInfo(p.elt);
    var fragment = api.makeFragment(text);
    var children = Array.from(fragment.children);
    for (var i = 0; i < children.length; i++) {
      api.oobSwap(api.getAttributeValue(children[i], 'hx-swap-oob') || 'true', children[i], settleInfo);
    }
    api.settleImmediately(settleInfo.tasks);
  }

  function pageId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return (b % 36).toString(36); }).join('');
  }

  // The banner is lost only when the socket is down (regie.js) and no fallback delivers.
  function setLive(p, live) {
    p.elt.toggleAttribute('data-fallback-live', live);
    var lost = p.elt.hasAttribute('data-ws-down') && !live;
    var banner = p.elt.querySelector('[data-connection]');
    if (banner) banner.hidden = !lost;
    p.elt.toggleAttribute('data-disconnected', lost);
  }

  function delivered(p, text) {
    p.fallbackLast = Date.now();
    setLive(p, true);
    swap(p, text);
  }

  function closeSource(p) {
    if (p.source) { p.source.close(); p.source = null; }
    if (p.pollTimer) { clearTimeout(p.pollTimer); p.pollTimer = null; }
  }

  function startSse(p) {
    closeSource(p);
    p.mode = 'sse';
    p.fallbackLast = Date.now();
    var source = new EventSource(p.base + '/sse');
    var got = false;
    source.onmessage = function (evt) { got = true; delivered(p, evt.data); };
    // Refused or cut before its first message: SSE is blocked as well, poll at once.
    source.onerror = function () { if (!got && p.source === source) startPolling(p); };
    p.source = source;
  }

  function startPolling(p) {
    closeSource(p);
    p.mode = 'poll';
    p.fallbackLast = p.fallbackLast || Date.now();
    poll(p);
  }

  function poll(p) {
    if (p.mode !== 'poll') return;
    var headers = { Accept: 'text/html' };
    if (p.etag) headers['If-None-Match'] = p.etag;
    fetch(p.base + '/fragments?page=' + p.id, { cache: 'no-store', credentials: 'same-origin', headers: headers })
      .then(function (answer) {
        if (answer.status === 304) { delivered(p, HEARTBEAT); return null; }
        if (!answer.ok) throw new Error('HTTP ' + answer.status);
        p.etag = answer.headers.get('ETag');
        return answer.text().then(function (text) { delivered(p, text); });
      })
      .catch(function () {
        if (Date.now() - p.fallbackLast > SILENCE_MS) setLive(p, false);
      })
      .then(function () {
        if (p.mode === 'poll') p.pollTimer = setTimeout(function () { poll(p); }, POLL_MS);
      });
  }

  function stopFallback(p) {
    closeSource(p);
    p.mode = null;
    p.etag = null;
    setLive(p, false);
  }

  function pageOf(elt) {
    for (var i = 0; i < pages.length; i++) { if (pages[i].elt === elt) return pages[i]; }
    return null;
  }

  // The socket delivers again: back to it.
  document.addEventListener('htmx:wsBeforeMessage', function (evt) {
    var p = pageOf(evt.target);
    if (!p) return;
    p.wsLast = Date.now();
    p.wsEver = true;
    if (p.mode) stopFallback(p);
  });
  // Never opened, or closed before delivering anything, on a fresh page: do not wait.
  document.addEventListener('htmx:wsClose', function (evt) {
    var p = pageOf(evt.target);
    if (p && !p.wsEver && !p.mode) startSse(p);
  });

  function check() {
    var now = Date.now();
    pages.forEach(function (p) {
      if (!document.body.contains(p.elt)) return;
      if (!p.mode) {
        var since = p.wsLast || p.loaded;
        if (now - since > (p.wsEver ? LOST_WAIT_MS : FIRST_WAIT_MS)) startSse(p);
      } else if (p.mode === 'sse' && now - p.fallbackLast > SILENCE_MS) {
        startPolling(p);
      }
    });
  }

  // Retrying a socket that a proxy blocks every 2 s would be wasted work for thousands of pages:
  // while a fallback delivers, it is retried now and then instead. Only while it delivers: when
  // the site itself is down (a restart longer than LOST_WAIT_MS), SSE and polling fail as well,
  // and the socket must keep its quick retries to be back within seconds of the server.
  var socketDelay = htmx.config.wsReconnectDelay;
  htmx.config.wsReconnectDelay = function (retry) {
    var delivering = pages.some(function (p) { return p.mode !== null && p.elt.hasAttribute('data-fallback-live'); });
    if (delivering) return WS_RETRY_MS / 2 + Math.random() * WS_RETRY_MS / 2;
    return typeof socketDelay === 'function' ? socketDelay(retry) : 1000;
  };

  function start() {
    document.querySelectorAll('[data-fallback]').forEach(function (elt) {
      pages.push({
        elt: elt, base: elt.getAttribute('data-fallback'), id: pageId(), loaded: Date.now(),
        wsLast: 0, wsEver: false, mode: null, source: null, pollTimer: null, etag: null, fallbackLast: 0
      });
    });
    setInterval(check, 1000);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
