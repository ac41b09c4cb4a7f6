// Buttons marked data-print open the browser's print dialog (instead of an inline
// onclick=, which the Content-Security-Policy does not allow).
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
