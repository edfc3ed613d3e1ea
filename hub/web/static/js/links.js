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
    if (a.name) { id.appendChild(document.createElement('br')); id.appendChild(XN.el('span', 'muted', a.name)); }
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
  }

  var refresh = XN.debounce(function () {
    XN.getJSON(data.agents_url).then(renderTable).catch(function () {});
  }, 1000);

  function offlineAreas(points) {
    var areas = [], start = null;
    points.forEach(function (p, i) {
      if (!p.online && start === null) { start = p.at; }
      if ((p.online || i === points.length - 1) && start !== null) { areas.push([{ xAxis: start }, { xAxis: p.at }]); start = null; }
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
        legend: { data: [i18n.rtt, i18n.outbox] },
        grid: { left: 60, right: 60, top: 40, bottom: 40 },
        xAxis: { type: 'time' },
        yAxis: [{ type: 'value', name: i18n.rtt }, { type: 'value', name: i18n.outbox, position: 'right' }],
        series: [
          { name: i18n.rtt, type: 'line', showSymbol: false, connectNulls: false,
            data: h.points.map(function (p) { return [p.at, p.rtt_ms]; }),
            markArea: { silent: true, itemStyle: { color: 'rgba(198,40,40,0.15)' },
                        label: { show: true, formatter: i18n.offline }, data: offlineAreas(h.points) } },
          { name: i18n.outbox, type: 'line', step: 'end', showSymbol: false, yAxisIndex: 1,
            data: h.points.map(function (p) { return [p.at, p.outbox_depth]; }) }
        ]
      }, true);
    }).catch(function () {});
  }

  document.getElementById('links-table').addEventListener('click', function (e) {
    var target = e.target.closest('[data-history]');
    if (target) { showHistory(target.dataset.history); }
  });

  XN.live(data.stream_url, {
    'link.status': refresh,
    'link.health': refresh,
    'quarantine.added': refresh,
    'stream.resync': refresh
  });
})();
