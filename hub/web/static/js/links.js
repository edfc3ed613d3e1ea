/* The links page: the table follows link events live; "History" charts one agent (ECharts). */
(function () {
  'use strict';
  var XN = window.XN, data = XN.data, i18n = data.i18n;
  var chart = null;

  function cell(text, cls) { return XN.el('td', cls || '', text === null || text === undefined ? '—' : text); }

  function row(a) {
    var tr = XN.el('tr', 'row-' + a.state + (a.stale ? ' row-stale' : ''));
    tr.dataset.agent = a.agent_id;
    var id = XN.el('td');
    id.appendChild(XN.el('strong', '', a.agent_id));
    if (a.name && a.name !== a.agent_id) { id.appendChild(document.createElement('br')); id.appendChild(XN.el('span', 'muted', a.name)); }
    tr.appendChild(id);
    tr.appendChild(cell(a.site_name || a.site_id));
    var st = XN.el('td');
    st.appendChild(XN.el('span', 'badge state-' + a.state, i18n.states[a.state]));
    if (a.stale) { st.appendChild(document.createTextNode(' ')); st.appendChild(XN.el('span', 'badge stale', i18n.stale)); }
    tr.appendChild(st);
    tr.appendChild(cell(a.heartbeat_age_s === null ? i18n.never : XN.fmt(i18n.ago, { age: XN.duration(a.heartbeat_age_s, i18n) })));
    tr.appendChild(cell(a.rtt_ms === null ? null : a.rtt_ms + ' ms', 'num'));
    tr.appendChild(cell(a.reconnects, 'num'));
    tr.appendChild(cell(a.outbox_depth, 'num'));
    tr.appendChild(cell(a.oldest_unacked_s === null ? null : XN.duration(a.oldest_unacked_s, i18n), 'num'));
    tr.appendChild(cell(a.cdc_lag_s === null ? null : XN.duration(a.cdc_lag_s, i18n), 'num'));
    var q = XN.el('td', 'num');
    if (a.quarantined) {
      var link = XN.el('a', '', a.quarantined);
      link.href = data.quarantine_url + '?agent=' + encodeURIComponent(a.agent_id);
      q.appendChild(link);
    } else { q.textContent = '0'; }
    tr.appendChild(q);
    var src = XN.el('td', '', a.source_health || '');
    if (a.degraded) { src.appendChild(document.createTextNode(' ')); src.appendChild(XN.el('span', 'badge stale', a.degraded)); }
    tr.appendChild(src);
    var act = XN.el('td');
    var btn = XN.el('button', 'link', i18n.history);
    btn.type = 'button';
    btn.dataset.history = a.agent_id;
    act.appendChild(btn);
    tr.appendChild(act);
    return tr;
  }

  function renderTable(page) {
    var body = document.querySelector('#links-table tbody');
    body.replaceChildren();
    if (!page.items.length) {
      var tr = XN.el('tr'), td = XN.el('td', 'muted', i18n.none);
      td.colSpan = 12; tr.appendChild(td); body.appendChild(tr);
    }
    page.items.forEach(function (a) { body.appendChild(row(a)); });
    var summary = document.getElementById('summary');
    if (summary && page.pages === 1 && data.agents_url.indexOf('state=') < 0) {
      var counted = page.items.filter(function (a) { return a.state !== 'revoked'; });
      var online = counted.filter(function (a) { return a.state === 'online'; }).length;
      summary.textContent = XN.fmt(i18n.summary, { online: online, total: counted.length });
    }
  }

  var refresh = XN.debounce(function () {
    XN.getJSON(data.agents_url).then(renderTable).catch(function () {});
  }, 1000);

  function at(p) { return XN.time(p.at); } /* the hub's wall-clock time, whatever the browser's zone */

  function offlineAreas(points) {
    var areas = [], start = null;
    points.forEach(function (p, i) {
      if (!p.online && start === null) { start = at(p); }
      if ((p.online || i === points.length - 1) && start !== null) { areas.push([{ xAxis: start }, { xAxis: at(p) }]); start = null; }
    });
    return areas;
  }

  function showHistory(agentId) {
    var url = data.history_url.replace('AGENT_ID', encodeURIComponent(agentId));
    document.getElementById('history-title').textContent = XN.fmt(i18n.history_title, { agent: agentId });
    XN.getJSON(url).then(function (h) {
      var box = document.getElementById('history-chart');
      if (!chart) {
        chart = window.echarts.init(box, null, { renderer: 'canvas' });
        window.addEventListener('resize', function () { chart.resize(); });
      }
      chart.setOption({
        animation: false,
        tooltip: { trigger: 'axis', renderMode: 'richText' },
        legend: { data: [i18n.rtt, i18n.outbox], top: 0 },
        grid: { left: 60, right: 60, top: 48, bottom: 30 },
        xAxis: { type: 'time', min: XN.time(h.since), max: XN.time(h.until) },
        graphic: h.points.length ? [] : [{ type: 'text', left: 'center', top: 'middle',
                                           style: { text: i18n.none, fill: '#6b7785', fontSize: 14 } }],
        yAxis: [{ type: 'value', name: i18n.rtt }, { type: 'value', name: i18n.outbox, position: 'right' }],
        series: [
          { name: i18n.rtt, type: 'line', showSymbol: h.points.length < 60, connectNulls: false,
            data: h.points.map(function (p) { return [at(p), p.rtt_ms]; }),
            markArea: { silent: true, itemStyle: { color: 'rgba(198,40,40,0.15)' },
                        label: { show: true, formatter: i18n.offline }, data: offlineAreas(h.points) } },
          { name: i18n.outbox, type: 'line', step: 'end', showSymbol: h.points.length < 60, yAxisIndex: 1,
            data: h.points.map(function (p) { return [at(p), p.outbox_depth]; }) }
        ]
      }, true);
    }).catch(function () {});
  }

  document.getElementById('links-table').addEventListener('click', function (e) {
    var target = e.target.closest('[data-history]');
    if (target) { showHistory(target.dataset.history); }
  });

  /* Heartbeats change RTT and backlog every few seconds without a status change: re-read the
     table every HEARTBEAT_MS too, so the figures stay fresh even where no link.health event comes. */
  var HEARTBEAT_MS = 10000;
  setInterval(function () { if (!document.hidden) { refresh(); } }, HEARTBEAT_MS);

  XN.live(data.stream_url, {
    'link.status': refresh,
    'link.health': refresh,
    'quarantine.added': refresh,
    'stream.resync': refresh
  });
})();
