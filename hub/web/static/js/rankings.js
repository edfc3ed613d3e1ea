/* Rankings: a bar per ranked entity for the period, and the leaders' scores over recent periods. */
(function () {
  'use strict';
  var XN = window.XN, data = XN.data, chart = data.chart, i18n = data.i18n;
  var COLORS = { excellent: '#2e7d32', good: '#1565c0', pass: '#ef8f00', fail: '#c62828' };
  var charts = [];

  function make(id) {
    var node = document.getElementById(id);
    if (!node || !window.echarts) { return null; }
    var c = window.echarts.init(node, null, { renderer: 'canvas' });
    charts.push(c);
    return c;
  }

  var bars = make('bars-chart');
  if (bars && chart.bars.length) {
    var rows = chart.bars.slice().reverse(); /* the best at the top of a horizontal bar chart */
    bars.setOption({
      animation: false,
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, renderMode: 'richText' },
      grid: { left: 150, right: 40, top: 10, bottom: 30 },
      xAxis: { type: 'value', min: 0, max: 100, name: i18n.score },
      yAxis: { type: 'category', data: rows.map(function (r) { return r.name; }), axisLabel: { width: 140, overflow: 'truncate', interval: 0, fontSize: rows.length > 15 ? 11 : 12 } },
      series: [{
        type: 'bar', name: i18n.score, barMaxWidth: 28,
        data: rows.map(function (r) {
          return { value: r.score, itemStyle: { color: COLORS[r.grade] || '#78909c' } };
        }),
        label: { show: true, position: 'right', formatter: function (p) { return p.value === null ? '' : Number(p.value).toFixed(1); } }
      }]
    });
  }

  var trend = make('trend-chart');
  if (trend) {
    trend.setOption({
      animation: false,
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      legend: { type: 'scroll', top: 0 },
      grid: { left: 50, right: 30, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: chart.trend.periods },
      yAxis: { type: 'value', min: function (v) { return Math.max(0, Math.floor(v.min / 10) * 10); }, max: 100, name: i18n.score },
      series: chart.trend.series.map(function (s) {
        return { name: s.name, type: 'line', connectNulls: false, symbolSize: 6, data: s.data };
      })
    });
  }

  window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
})();
