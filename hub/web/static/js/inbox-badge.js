/* The unread count beside 收件箱 in the top bar, kept fresh on pages left open for hours (the wall,
   the card queue): asks /inbox/unread every minute, and at once when the tab becomes visible. */
(function () {
  'use strict';
  var link = document.getElementById('nav-inbox');
  if (!link || !window.fetch) { return; }
  var url = link.dataset.unreadUrl;

  function show(n) {
    var badge = document.getElementById('inbox-unread');
    if (!n) { if (badge) { badge.remove(); } return; }
    if (!badge) {
      badge = document.createElement('span');
      badge.id = 'inbox-unread';
      badge.className = 'badge level-red unread-count';
      link.appendChild(document.createTextNode(' '));
      link.appendChild(badge);
    }
    badge.textContent = String(n);
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && typeof d.unread === 'number') { show(d.unread); } })
      .catch(function () { /* offline for a moment: the next minute tries again */ });
  }

  setInterval(refresh, 60000);
  document.addEventListener('visibilitychange', refresh);
}());
