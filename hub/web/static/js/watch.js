/* Cases board, case page, card queue and card page: count the live events that concern this page
   and offer a reload link ("3 updates — refresh") instead of moving rows under the operator's eyes. */
(function () {
  'use strict';
  var XN = window.XN, data = XN.data;
  var link = document.getElementById('updates');
  var count = 0;

  function concerns(kind, d) {
    switch (data.watch) {
      case 'cases': return kind === 'case.updated' || kind === 'card.raised';
      case 'case': return d.case_id === data.case_id;
      case 'cards': return kind === 'card.raised' || kind === 'card.updated';
      case 'card': return d.card_id === data.card_id || d.escalates === data.card_id;
      default: return false;
    }
  }

  function bump(kind, d) {
    if (!link || (kind !== 'stream.resync' && !concerns(kind, d))) { return; }
    count += 1;
    link.textContent = XN.fmt(link.dataset.text, { n: count });
    link.hidden = false;
  }

  var handlers = {};
  ['case.updated', 'card.raised', 'card.updated', 'stream.resync'].forEach(function (kind) {
    handlers[kind] = function (d) { bump(kind, d); };
  });
  XN.live(data.stream_url, handlers);
})();
