// A form that is being sent is sent once: its buttons are disabled until the next page
// loads, so a double click never sends it twice (and never shows a refusal after a success).
// Without JavaScript the server still refuses the duplicate; this only spares the message.
(function () {
  "use strict";

  function buttonsOf(form) {
    var own = Array.prototype.slice.call(form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]"));
    if (form.id) {
      own = own.concat(Array.prototype.slice.call(document.querySelectorAll('[form="' + form.id + '"]')));
    }
    return own;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // A form whose own script took the submission over (WebAuthn, htmx) is left alone.
    if (event.defaultPrevented || !(form instanceof HTMLFormElement) ||
        (form.method || "").toLowerCase() !== "post") {
      return;
    }
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "true";
    form.setAttribute("aria-busy", "true");
    // After this event, so that the button that was pressed still sends its name and value.
    window.setTimeout(function () {
      buttonsOf(form).forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  // Back to a page kept in the browser's cache: its forms can be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
      buttonsOf(form).forEach(function (button) {
        button.disabled = false;
      });
    });
  });
})();

// On a phone the main menu starts closed behind its "Menu" button (without JavaScript it
// stays open, so every page can still be reached).
(function () {
  "use strict";
  var menu = document.querySelector(".main-nav details.menu");
  if (menu && window.matchMedia("(max-width: 40rem)").matches) {
    menu.open = false;
  }
})();

// A page that comes back with errors puts the focus on their summary, which a screen reader
// then reads out and whose links lead to each field.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
