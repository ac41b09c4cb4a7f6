/* Booking forms (templates/bookings/_party_fields.html): keep the line under the
   checkboxes saying who is booked and whether a child is included. The texts come
   from data- attributes, so they stay translated; without this script the line
   shows the default choice the server rendered. */
(function () {
  "use strict";

  function fill(text, values) {
    return text.replace("{n}", values.n).replace("{names}", values.names).replace("{c}", values.c);
  }

  function update(box) {
    var names = [];
    var children = 0;
    box.querySelectorAll("input[type=checkbox][data-party-name]").forEach(function (input) {
      if (!input.checked) {
        return;
      }
      names.push(input.getAttribute("data-party-name"));
      if (input.hasAttribute("data-party-child")) {
        children += 1;
      }
    });
    var text;
    if (!names.length) {
      text = box.getAttribute("data-text-none");
    } else {
      text = fill(
        box.getAttribute(children ? "data-text-with-children" : "data-text-without-children"),
        { n: String(names.length), names: names.join(box.getAttribute("data-separator")), c: String(children) }
      );
    }
    var summary = box.querySelector("[data-party-summary]");
    if (summary && summary.textContent !== text) {
      summary.textContent = text;
    }
  }

  document.querySelectorAll("[data-party]").forEach(function (box) {
    box.addEventListener("change", function () {
      update(box);
    });
  });
})();
