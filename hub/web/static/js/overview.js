/* The overview wall: figures, halls and ranking from /api/v1/overview, kept live by the event stream.
   New cards go straight into the feed from their event; the figures are re-read at most every
   `REFRESH_MS` however fast records arrive (a throttle, not a debounce: a busy hub still refreshes). */
(function () {
  'use strict';
  var XN = window.XN, data = XN.data, i18n = data.i18n;
  var REFRESH_MS = 1000;
  var records = 0;
  var seen = {};

  function setFigure(key, value) {
    var node = document.querySelector('[data-figure="' + key + '"]');
    if (!node) { return; }
    var text = value === null || value === undefined ? '—'
      : key === 'on_time_rate' ? (value * 100).toFixed(1) + '%' : String(value);
    if (node.textContent !== text) {
      node.textContent = text;
      node.classList.add('flash-up');
      setTimeout(function () { node.classList.remove('flash-up'); }, 1200);
    }
  }

  function renderHalls(sites) {
    var list = document.getElementById('halls');
    if (!list) { return; }
    list.replaceChildren();
    if (!sites.length) { list.appendChild(XN.el('li', 'muted', i18n.none)); return; }
    sites.forEach(function (s) {
      var li = XN.el('li', s.online === s.total ? 'hall-ok' : 'hall-bad');
      li.appendChild(XN.el('span', '', s.name || s.site_id));
      li.appendChild(XN.el('span', '', XN.fmt(i18n.hall_agents, { online: s.online, total: s.total })));
      list.appendChild(li);
    });
  }

  function renderRanking(rows) {
    var list = document.getElementById('ranking');
    if (!list || !rows) { return; }
    list.replaceChildren();
    if (!rows.length) { list.appendChild(XN.el('li', 'muted', i18n.none)); return; }
    rows.forEach(function (r) {
      var li = XN.el('li');
      li.appendChild(XN.el('span', 'rk-name', r.name || r.entity));
      li.appendChild(document.createTextNode(' '));
      var meter = document.createElement('meter');
      meter.min = 0; meter.max = 100; meter.low = 60; meter.high = 80; meter.optimum = 100;
      meter.value = typeof r.score === 'number' ? r.score : 0;
      li.appendChild(meter);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(XN.el('span', 'rk-score', typeof r.score === 'number' ? r.score.toFixed(1) : '—'));
      list.appendChild(li);
    });
  }

  function apply(snapshot) {
    var sv = snapshot.supervision;
    if (sv) {
      ['accepted_today', 'completed_today', 'open', 'overdue', 'on_time_rate', 'cards_today'].forEach(function (k) {
        setFigure(k, sv[k]);
      });
    }
    setFigure('agents_online', snapshot.links.online);
    setFigure('agents_offline', snapshot.links.offline);
    setFigure('quarantine_24h', snapshot.quarantine_24h);
    renderHalls(snapshot.sites || []);
    renderRanking(snapshot.ranking);
    (snapshot.recent_cards || []).slice().reverse().forEach(function (c) { addCard(c, true); });
    var updated = document.getElementById('updated');
    if (updated) { updated.textContent = XN.fmt(i18n.updated, { time: XN.time(snapshot.at) }); }
  }

  /* at most one request per REFRESH_MS; events meanwhile fold into one trailing refresh */
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    XN.getJSON(data.overview_url).then(apply).catch(function () {}).then(function () {
      setTimeout(function () { busy = false; if (again) { again = false; refresh(); } }, REFRESH_MS);
    });
  }

  function addCard(card, quiet) {
    var feed = document.getElementById('feed');
    if (!feed || !card.card_id || seen[card.card_id]) { return; }
    seen[card.card_id] = true;
    var empty = feed.querySelector('li.muted');
    if (empty) { empty.remove(); }
    var li = XN.el('li', 'card-' + (card.level || 'reminder') + (quiet ? '' : ' fresh'));
    li.dataset.card = card.card_id;
    var caseId = card.case_id || (/^case:/.test(card.subject || '') ? card.subject.slice(5) : null);
    if (caseId) { li.dataset.caseId = caseId; }
    li.appendChild(XN.el('span', 'muted', XN.time(card.raised_at ? card.raised_at : new Date()) + ' '));
    li.appendChild(XN.el('span', 'badge level-' + (card.level || 'reminder'), i18n.levels[card.level] || card.level || ''));
    li.appendChild(document.createTextNode(' '));
    var link = XN.el('a', '', card.message || card.title || card.rule || card.card_id);
    link.href = data.card_url.replace('CARD_ID', encodeURIComponent(card.card_id));
    li.appendChild(link);
    if (card.dept_name || card.dept_code) { li.appendChild(XN.el('span', 'muted', ' · ' + (card.dept_name || card.dept_code))); }
    /* snapshot cards come oldest first (see apply), so the newest always ends on top */
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 50) { feed.removeChild(feed.lastChild); }
  }

  document.querySelectorAll('#feed li[data-card]').forEach(function (li) { seen[li.dataset.card] = true; });

  XN.live(data.stream_url, {
    'overview.counters': function (d) { Object.keys(d).forEach(function (k) { setFigure(k, d[k]); }); },
    'record.ingested': function (d) { records += d.count || 1; setFigure('records_live', records); refresh(); },
    'card.raised': function (d) { addCard(d, false); refresh(); },
    'card.updated': refresh,
    'case.updated': refresh,
    'link.status': refresh,
    'quarantine.added': refresh,
    'stream.resync': refresh
  });
})();
