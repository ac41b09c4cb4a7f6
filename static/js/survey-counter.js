// A questionnaire's text answer: the 「最多 N 字」 line under the box also says how
// many characters are typed. Without this script the line still gives the limit,
// and the server checks it.
(function () {
  "use strict";
  document.querySelectorAll("[data-counter-for]").forEach(function (counter) {
    var box = document.getElementById(counter.getAttribute("data-counter-for"));
    var max = parseInt(counter.getAttribute("data-max"), 10);
    if (!box || !max) { return; }
    var typed = counter.getAttribute("data-typed") || "{n} / {max}";
    var show = function () {
      counter.textContent = typed.replace("{n}", box.value.length).replace("{max}", max);
    };
    show();
    box.addEventListener("input", show);
  });
})();
