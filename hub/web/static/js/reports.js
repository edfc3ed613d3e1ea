/* The monthly report: cases per day and per month (bars) with the on-time rate (line, right axis). */
(function () {
  'use strict';
  var XN = window.XN, charts = XN.data.charts, i18n = XN.data.i18n, drawn = [];

  function draw(id, series) {
    var node = document.getElementById(id);
    if (!node || !series || !window.echarts) { return; }
    var c = window.echarts.init(node, null, { renderer: 'canvas' });
    drawn.push(c);
    c.setOption({
      animation: false,
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      legend: { top: 0 },
      grid: { left: 50, right: 50, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: series.x },
      yAxis: [{ type: 'value' }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
      series: [
        { name: i18n.accepted, type: 'bar', barMaxWidth: 18, data: series.accepted },
        { name: i18n.completed, type: 'bar', barMaxWidth: 18, data: series.completed },
        { name: i18n.on_time, type: 'line', yAxisIndex: 1, connectNulls: true, data: series.on_time_rate }
      ]
    });
  }

  draw('trend-chart', charts.trend);
  draw('months-chart', charts.trend_months);
  window.addEventListener('resize', function () { drawn.forEach(function (c) { c.resize(); }); });
})();
