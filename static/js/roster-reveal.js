// 「显示号码」 on a roster (templates/members/_roster_contacts.html): reveals a
// family's numbers in place instead of reloading the page. Without this script
// the button posts the form and the roster comes back with the numbers shown.
// The server answers JSON only when asked for it (Accept: application/json).
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) {
    return;
  }

  function numberCell(contact) {
    var cell = document.createDocumentFragment();
    var link = document.createElement("a");
    link.className = "no-print";
    link.href = contact.tel;
    link.textContent = contact.phone;
    var printed = document.createElement("span");
    printed.className = "print-only";
    printed.textContent = contact.masked;
    cell.appendChild(link);
    cell.appendChild(printed);
    return cell;
  }

  function reveal(button) {
    var form = button.form;
    var box = button.closest("[data-contacts]");
    var token = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!box || !token) {
      return false;
    }
    var status = box.querySelector("[data-reveal-status]");
    var body = new FormData();
    body.append("csrfmiddlewaretoken", token.value);
    body.append(button.name, button.value);
    button.disabled = true;
    fetch(button.getAttribute("formaction") || form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      })
      .then(function (result) {
        if (!result.ok) {
          status.textContent = result.data.error || box.dataset.revealFailed;
          button.disabled = false;
          return;
        }
        var first = null;
        result.data.contacts.forEach(function (contact) {
          var holder = box.querySelector(
            '[data-guardian="' + contact.guardian_id + '"] [data-number]'
          );
          if (holder) {
            holder.textContent = "";
            holder.appendChild(numberCell(contact));
            first = first || holder.querySelector("a");
          }
        });
        var wrapper = button.closest("form.inline-form") || button;
        wrapper.remove();
        status.textContent = "";
        // The button is gone: keep the keyboard where it was, on the first number.
        if (first) {
          first.focus();
        }
      })
      .catch(function () {
        status.textContent = box.dataset.revealFailed;
        button.disabled = false;
      });
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-reveal]");
    if (button && reveal(button)) {
      event.preventDefault();
    }
  });
})();
