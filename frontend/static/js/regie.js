/* Régie's page script: keeps live pages connected, in order, and their clocks ticking.
 * Loaded after htmx and its ws extension; no dependencies of its own. */
(function () {
  'use strict';

  // htmx's ws extension reconnects by itself only on these close codes.
  var HTMX_RECONNECTS = [1006, 1011, 1012, 1013];
  var SESSION_EXPIRED = 4401;
  // The server beats every 10 s; a socket silent for longer is presumed dead (sleep, lost network).
  var SILENCE_MS = 25000;

  // Capped at 2 s with jitter: a viewer is back within 3 s of the server, and thousands of
  // viewers do not all knock at the same instant.
  htmx.config.wsReconnectDelay = function (retry) {
    var ceiling = Math.min(2000, 250 * Math.pow(2, retry));
    return ceiling / 2 + Math.random() * ceiling / 2;
  };

  /* --- server clock --------------------------------------------------------------------- */
  var clockOffset = 0;
  function initClock() {
    var serverNow = Number(document.body.getAttribute('data-server-now'));
    if (serverNow) clockOffset = serverNow - Date.now();
  }
  function now() { return Date.now() + clockOffset; }

  /* --- never an older version after a newer one ----------------------------------------- */
  // The version each swapped element shows, by id: fragments of an older version are dropped,
  // whichever way they arrive (socket, console answer, a reconnect racing a late message).
  var shown = {};
  function versionOf(el) {
    var value = el && el.getAttribute && el.getAttribute('data-version');
    return value === null || value === undefined ? null : Number(value);
  }
  document.addEventListener('htmx:oobBeforeSwap', function (evt) {
    var incoming = evt.detail.fragment;
    if (incoming && incoming.nodeType === 11) incoming = incoming.firstElementChild;
    var version = versionOf(incoming);
    if (version === null) return;
    var target = evt.detail.target;
    var current = target.id in shown ? shown[target.id] : versionOf(target);
    if (current !== null && version <= current) {
      evt.detail.shouldSwap = false;
      return;
    }
    shown[target.id] = version;
  });

  /* --- staying connected ---------------------------------------------------------------- */
  var sockets = new Map();   // element -> {wrapper, socket, retries, lastMessage, replaced}

  function entry(elt) {
    var e = sockets.get(elt);
    if (!e) { e = { wrapper: null, socket: null, retries: 0, lastMessage: Date.now(), replaced: new WeakSet() }; sockets.set(elt, e); }
    return e;
  }
  function showConnection(elt, ok) {
    var banner = elt.querySelector('[data-connection]');
    if (banner) banner.hidden = ok;
    elt.toggleAttribute('data-disconnected', !ok);
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
      if (e.socket.readyState === WebSocket.OPEN && Date.now() - e.lastMessage > maxSilence) reconnect(elt, e);
    });
  }
  setInterval(function () { checkSockets(SILENCE_MS); }, 5000);
  // Back from sleep or from a lost network: do not wait for the next check.
  function wake() { checkSockets(12000); }
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
  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
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
      el.textContent = left >= 0 ? 'reste ' + span(left) : 'dépassement de ' + span(-left);
      el.classList.toggle('overrun', left < 0);
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

  function start() {
    initClock();
    tick();
    setInterval(tick, 1000);
  }
  document.addEventListener('htmx:oobAfterSwap', tick);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
