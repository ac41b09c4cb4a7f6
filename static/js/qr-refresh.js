// Swaps in a freshly signed QR code before the current link expires (no page reload).
// Any element with data-refresh-url and data-refresh-seconds is refreshed; the URL
// answers with the new SVG. A static file, so the page needs no inline script (CSP).
(function () {
  "use strict";
  document.querySelectorAll("[data-refresh-url][data-refresh-seconds]").forEach(function (box) {
    var every = parseInt(box.dataset.refreshSeconds, 10) * 1000;
    if (!(every > 0)) return;
    setInterval(function () {
      fetch(box.dataset.refreshUrl, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (svg) { if (svg) { box.innerHTML = svg; } });
    }, every);
  });
})();
