// The board refreshes itself: every few seconds it asks whether any ticket changed, and
// only then fetches the table again. Without this script the page works the same,
// refreshed by hand.
(function () {
  "use strict";
  var rows = document.getElementById("rows");
  if (!rows || !window.fetch) { return; }
  var every = 5000;
  function refresh() {
    fetch(rows.dataset.probe, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (stamp) {
        if (stamp === null || stamp === rows.dataset.stamp) { return null; }
        return fetch(rows.dataset.source, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html === null) { return; }
            rows.innerHTML = html;
            rows.dataset.stamp = stamp;
            rows.dispatchEvent(new Event("refreshed"));
          });
      })
      .catch(function () { /* the next round tries again */ })
      .then(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
