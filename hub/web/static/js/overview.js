/* The overview wall: figures and halls from /api/v1/overview, kept live by the event stream. */
(function () {
  'use strict';
  var XN = window.XN, data = XN.data, i18n = data.i18n;
  var records = 0;

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

  function apply(snapshot) {
    var sv = snapshot.supervision || {};
    ['accepted_today', 'completed_today', 'open', 'overdue', 'on_time_rate', 'cards_today'].forEach(function (k) {
      if (snapshot.supervision) { setFigure(k, sv[k]); }
    });
    setFigure('agents_online', snapshot.links.online);
    setFigure('agents_offline', snapshot.links.offline);
    setFigure('quarantine_24h', snapshot.quarantine_24h);
    renderHalls(snapshot.sites || []);
    var updated = document.getElementById('updated');
    if (updated) { updated.textContent = XN.fmt(i18n.updated, { time: new Date(snapshot.at).toLocaleTimeString() }); }
  }

  var refresh = XN.debounce(function () { XN.getJSON(data.overview_url).then(apply).catch(function () {}); }, 800);

  function addCard(card) {
    var feed = document.getElementById('feed');
    var empty = feed.querySelector('li.muted');
    if (empty) { empty.remove(); }
    var li = XN.el('li', 'card-' + (card.level || 'reminder'));
    li.appendChild(XN.el('span', 'muted', new Date().toLocaleTimeString() + ' '));
    li.appendChild(XN.el('strong', '', card.title || card.card_id || ''));
    if (card.dept_name || card.dept_code) { li.appendChild(XN.el('span', 'muted', ' · ' + (card.dept_name || card.dept_code))); }
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 50) { feed.removeChild(feed.lastChild); }
  }

  XN.live(data.stream_url, {
    'overview.counters': function (d) { Object.keys(d).forEach(function (k) { setFigure(k, d[k]); }); },
    'record.ingested': function (d) { records += d.count || 1; setFigure('records_live', records); },
    'card.raised': function (d) { addCard(d); refresh(); },
    'card.updated': refresh,
    'case.updated': refresh,
    'link.status': refresh,
    'quarantine.added': refresh,
    'stream.resync': refresh
  });
})();
