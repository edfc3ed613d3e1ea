/* Shared helpers of the hub pages. No inline scripts anywhere: the page's data comes in a
   <script type="application/json" id="xn-data"> block (allowed by the Content-Security-Policy). */
(function () {
  'use strict';
  var node = document.getElementById('xn-data');
  var XN = (window.XN = { data: node ? JSON.parse(node.textContent) : {} });

  XN.fmt = function (template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : m;
    });
  };

  /* A moment as the hub shows it: in the hub's time zone (<body data-tz>), not the browser's. */
  XN.tz = document.body ? document.body.dataset.tz : undefined;
  XN.time = function (value, timeOnly) {
    var d = value instanceof Date ? value : new Date(value);
    if (isNaN(d.getTime())) { return ''; }
    var opts = { hour12: false, timeZone: XN.tz || undefined, hour: '2-digit', minute: '2-digit', second: '2-digit' };
    if (!timeOnly) { opts.year = 'numeric'; opts.month = '2-digit'; opts.day = '2-digit'; }
    try { return d.toLocaleString('sv-SE', opts); } catch (e) { return d.toLocaleString(); }
  };

  XN.getJSON = function (url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      if (r.status === 401) { window.location.reload(); throw new Error('signed out'); }
      if (!r.ok) { throw new Error(url + ': HTTP ' + r.status); }
      return r.json();
    });
  };

  XN.debounce = function (fn, ms) {
    var timer = null;
    return function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { timer = null; fn(); }, ms);
    };
  };

  XN.el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  };

  /* Durations in the page's language, like the server's `duration` filter. */
  XN.duration = function (seconds, i18n) {
    if (seconds === null || seconds === undefined) { return ''; }
    var left = Math.max(0, Math.floor(seconds)), parts = [];
    [['d', 86400], ['h', 3600], ['m', 60]].forEach(function (u) {
      if (parts.length < 2 && left >= u[1]) { parts.push(XN.fmt(i18n[u[0]], { n: Math.floor(left / u[1]) })); left %= u[1]; }
    });
    if (parts.length < 2 && (left || !parts.length)) { parts.push(XN.fmt(i18n.s, { n: left })); }
    var sep = /秒$/.test(XN.fmt(i18n.s, { n: 1 })) ? '' : ' ';
    return parts.slice(0, 2).join(sep);
  };

  /* Live updates over Server-Sent Events; `handlers` maps event kinds to functions(data). */
  XN.live = function (url, handlers) {
    var badge = document.getElementById('live-state');
    var source = new EventSource(url);
    function show(on) {
      if (!badge) { return; }
      badge.textContent = on ? badge.dataset.live : badge.dataset.reconnecting;
      badge.classList.toggle('on', on);
    }
    source.onopen = function () { show(true); };
    source.onerror = function () {
      show(false);
      if (source.readyState === EventSource.CLOSED) {
        /* refused (signed out, or the hub restarted): reload, which leads to the login if needed */
        setTimeout(function () { window.location.reload(); }, 5000);
      }
    };
    Object.keys(handlers).forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        var data = {};
        try { data = JSON.parse(e.data || '{}'); } catch (err) { return; }
        handlers[kind](data, e);
      });
    });
    window.addEventListener('pagehide', function () { source.close(); });
    XN.source = source;
    return source;
  };
})();
