/* Régie's page script: keeps live pages connected, in order, and their clocks ticking.
 * Loaded after htmx and its ws extension; no dependencies of its own. */
(function () {
  'use strict';

  // htmx's ws extension reconnects by itself only on these close codes.
  var HTMX_RECONNECTS = [1006, 1011, 1012, 1013];
  var SESSION_EXPIRED = 4401;
  // The server beats every 3 s; a socket silent for 8 s is presumed dead (sleep, or a network that
  // dropped without a FIN: the browser would not notice for minutes), so the viewer is told
  // « reconnexion » within 10 s, checked every second.
  var SILENCE_MS = 8000;

  // Capped at 2 s with jitter: a viewer is back within 3 s of the server, and thousands of
  // viewers do not all knock at the same instant.
  htmx.config.wsReconnectDelay = function (retry) {
    var ceiling = Math.min(2000, 250 * Math.pow(2, retry));
    return ceiling / 2 + Math.random() * ceiling / 2;
  };

  /* --- server clock --------------------------------------------------------------------- */
  // The server's time is Date.now() + clockOffset. The page carries a first guess (the server's
  // clock when it was rendered); then the page measures, NTP-style, against /time on this site:
  // a few round trips one after the other, the fastest one kept, the server's reading placed at
  // its midpoint, so the offset is right to within half that round trip.
  var clockOffset = 0;
  var SYNC_SAMPLES = 5;
  var RESYNC_MS = 10 * 60 * 1000;
  var syncing = false;
  function initClock() {
    var serverNow = Number(document.body.getAttribute('data-server-now'));
    if (serverNow) clockOffset = serverNow - Date.now();
  }
  function now() { return Date.now() + clockOffset; }

  function sample() {
    var wall = Date.now(), start = performance.now();
    return fetch('/time', { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (answer) {
        if (!answer.ok) throw new Error('HTTP ' + answer.status);
        return answer.json();
      })
      .then(function (body) {
        var rtt = performance.now() - start;
        return { rtt: rtt, offset: Number(body.server_time_ms) - (wall + rtt / 2) };
      });
  }
  function syncClock() {
    if (syncing) return;
    syncing = true;
    var best = null, taken = 0;
    function next() {
      sample()
        .then(function (s) { if (isFinite(s.offset) && (!best || s.rtt < best.rtt)) best = s; },
              function () { /* offline or restarting: keep the last offset */ })
        .then(function () {
          taken += 1;
          if (taken < SYNC_SAMPLES) { next(); return; }
          syncing = false;
          if (!best) return;
          clockOffset = best.offset;
          document.documentElement.setAttribute('data-clock-rtt', String(Math.round(best.rtt)));
          tick();
        });
    }
    next();
  }
  // The system clock can be changed under a running page (NTP, a person, a sleeping laptop): the
  // monotonic clock does not move with it, so a gap between the two means measuring again.
  var lastWall = Date.now(), lastMono = performance.now();
  function clockJumped() {
    var wall = Date.now(), mono = performance.now();
    var jump = Math.abs((wall - lastWall) - (mono - lastMono));
    lastWall = wall; lastMono = mono;
    return jump > 1000;
  }

  /* --- never an older state after a newer one ------------------------------------------- */
  // Each swapped element carries what orders the states: the programme's revision (data-epoch:
  // a re-imported programme may restart its versions), the version, then data-stamp (projected
  // times that moved within one version). Fragments not newer than what an element shows are
  // dropped, whichever way they arrive (socket, console answer, a reconnect racing a late message).
  var shown = {};
  function orderOf(el) {
    if (!el || !el.getAttribute) return null;
    var version = el.getAttribute('data-version');
    if (version === null) return null;
    return [Number(el.getAttribute('data-epoch') || 0), Number(version), Number(el.getAttribute('data-stamp') || 0)];
  }
  function compare(a, b) {
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1; }
    return 0;
  }
  document.addEventListener('htmx:oobBeforeSwap', function (evt) {
    var incoming = evt.detail.fragment;
    if (incoming && incoming.nodeType === 11) incoming = incoming.firstElementChild;
    var order = orderOf(incoming);
    if (order === null) return;
    var target = evt.detail.target;
    var current = target.id in shown ? shown[target.id] : orderOf(target);
    if (current !== null && compare(order, current) <= 0) {
      evt.detail.shouldSwap = false;
      return;
    }
    shown[target.id] = order;
    // Same content under a newer state (the overlay's lower third when something else changed):
    // keep the element, so its entrance does not play again on the video.
    var key = incoming.getAttribute('data-key');
    if (key !== null && key === target.getAttribute('data-key')) evt.detail.shouldSwap = false;
  });

  /* --- staying connected ---------------------------------------------------------------- */
  var sockets = new Map();   // element -> {wrapper, socket, retries, lastMessage, replaced}

  function entry(elt) {
    var e = sockets.get(elt);
    if (!e) { e = { wrapper: null, socket: null, retries: 0, lastMessage: Date.now(), replaced: new WeakSet() }; sockets.set(elt, e); }
    return e;
  }
  function showConnection(elt, ok) {
    elt.toggleAttribute('data-ws-down', !ok);
    // While fallback.js delivers the same messages by SSE or polling, the page is not cut off.
    var lost = !ok && !elt.hasAttribute('data-fallback-live');
    var banner = elt.querySelector('[data-connection]');
    if (banner) banner.hidden = !lost;
    elt.toggleAttribute('data-disconnected', lost);
  }
  function reconnect(elt, e) {
    if (!document.body.contains(elt) || !e.wrapper) return;
    if (e.socket) e.replaced.add(e.socket);
    e.lastMessage = Date.now();
    e.wrapper.reconnect();
  }

  document.addEventListener('htmx:wsOpen', function (evt) {
    var e = entry(evt.target);
    e.wrapper = evt.detail.socketWrapper;
    e.socket = evt.detail.event.target;
    e.retries = 0;
    e.lastMessage = Date.now();
    showConnection(evt.target, true);
  });

  document.addEventListener('htmx:wsBeforeMessage', function (evt) {
    entry(evt.target).lastMessage = Date.now();
    // The heartbeat only proves the socket is alive: nothing to swap.
    if (evt.detail.message === '<span id="live-beat" hidden></span>') evt.preventDefault();
  });

  document.addEventListener('htmx:wsClose', function (evt) {
    var elt = evt.target;
    var e = entry(elt);
    var socket = evt.detail.event.target;
    if (e.replaced.has(socket)) return;  // a socket we replaced on purpose
    e.wrapper = evt.detail.socketWrapper;
    showConnection(elt, false);
    var code = evt.detail.event.code;
    if (code === SESSION_EXPIRED && elt.getAttribute('data-login-url')) {
      window.location.assign(elt.getAttribute('data-login-url'));
      return;
    }
    if (HTMX_RECONNECTS.indexOf(code) >= 0) return;  // htmx retries these itself
    // Any other code (1000, 1001 "going away", 1008…): retry too, a live page never gives up.
    var delay = htmx.config.wsReconnectDelay(e.retries);
    e.retries += 1;
    setTimeout(function () { reconnect(elt, e); }, delay);
  });

  function checkSockets(maxSilence) {
    sockets.forEach(function (e, elt) {
      if (!document.body.contains(elt)) { sockets.delete(elt); return; }
      if (!e.socket || !e.wrapper) return;
      // Closed sockets are already being retried (by htmx or above); only a silent open one is stuck.
      if (e.socket.readyState === WebSocket.OPEN && Date.now() - e.lastMessage > maxSilence) silent(elt, e);
    });
  }
  // A silent socket is replaced on purpose, so its close event is ignored: say so here, or the
  // viewer would go on reading a frozen state as if it were live.
  function silent(elt, e) {
    showConnection(elt, false);
    reconnect(elt, e);
  }
  setInterval(function () { checkSockets(SILENCE_MS); }, 1000);
  // Back from sleep or from a lost network: do not wait for the next check; and measure the
  // clock again, the system's may have been set meanwhile.
  function wake() { checkSockets(12000); syncClock(); }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) wake(); });
  window.addEventListener('online', wake);
  window.addEventListener('pageshow', wake);

  /* --- countdowns and clocks ------------------------------------------------------------ */
  var clockFormats = {};
  function clockFormat(tz) {
    if (!clockFormats[tz]) {
      clockFormats[tz] = new Intl.DateTimeFormat('fr-FR', { timeZone: tz, hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    return clockFormats[tz];
  }
  function two(n) { return (n < 10 ? '0' : '') + n; }
  // Whole seconds rounded up, as a countdown reads: "1 s" until the very moment, then "0 s".
  function span(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000 - 0.001));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d > 0) return d + ' j ' + two(h) + ' h';
    if (h > 0) return h + ' h ' + two(m) + ' min';
    if (m > 0) return m + ' min ' + two(sec) + ' s';
    return sec + ' s';
  }
  function tick() {
    var t = now();
    document.querySelectorAll('[data-countdown]').forEach(function (el) {
      var left = Date.parse(el.getAttribute('data-countdown')) - t;
      el.textContent = left > 0 ? '(dans ' + span(left) + ')' : '(imminent)';
    });
    document.querySelectorAll('[data-time-left]').forEach(function (el) {
      var left = Date.parse(el.getAttribute('data-time-left')) - t;
      el.textContent = left > 0 ? 'reste ' + span(left) : 'dépassement de ' + span(-left);
      el.classList.toggle('overrun', left <= 0);
    });
    document.querySelectorAll('[data-clock]').forEach(function (el) {
      el.textContent = clockFormat(el.getAttribute('data-tz') || 'Europe/Paris').format(t);
    });
  }

  /* --- replay chapters ------------------------------------------------------------------ */
  document.addEventListener('click', function (evt) {
    var button = evt.target.closest && evt.target.closest('[data-seek]');
    if (!button) return;
    var video = document.getElementById(button.getAttribute('data-player'));
    if (!video) return;
    video.currentTime = Number(button.getAttribute('data-seek'));
    var playing = video.play();
    if (playing && playing.catch) playing.catch(function () { /* autoplay refused: the position is set */ });
  });

  // Ticks land just after each second of the server's clock, so what a page shows is the
  // server's second, not one up to a second old (50 ms after: an offset measured a few ms off
  // must not make a tick land just before the second it means to show).
  function scheduleTick() {
    setTimeout(function () {
      if (clockJumped()) syncClock();
      tick();
      scheduleTick();
    }, 1000 - (((now() % 1000) + 1000) % 1000) + 50);
  }
  function start() {
    initClock();
    tick();
    scheduleTick();
    syncClock();
    setInterval(syncClock, RESYNC_MS);
  }
  document.addEventListener('htmx:oobAfterSwap', tick);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
