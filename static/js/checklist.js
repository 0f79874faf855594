// A list of checkboxes (accessgroups.web.widgets.CheckboxFilterList) gets a filter box: typing
// hides the options whose text does not contain what was typed. Ticked options stay ticked
// when hidden, and are still sent. Without JavaScript the whole list shows.
(function () {
  "use strict";

  function legendOf(list) {
    var fieldset = list.closest("fieldset");
    var legend = fieldset && fieldset.querySelector("legend");
    return legend ? legend.textContent.trim() : "options";
  }

  function setUp(list) {
    var items = Array.prototype.slice.call(list.querySelectorAll("li"));
    if (items.length < 2) {
      return;
    }
    var texts = items.map(function (item) { return item.textContent.toLowerCase(); });
    var name = legendOf(list);
    var box = document.createElement("div");
    box.className = "checklist-filter";
    var label = document.createElement("label");
    label.textContent = "Filter " + name.toLowerCase();
    var input = document.createElement("input");
    input.type = "search";
    input.autocomplete = "off";
    input.id = list.id + "_filter";
    label.htmlFor = input.id;
    var count = document.createElement("p");
    count.className = "checklist-count muted";
    count.setAttribute("aria-live", "polite");
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(count);
    list.parentNode.insertBefore(box, list);

    function ticked() {
      return list.querySelectorAll("input[type=checkbox]:checked").length;
    }

    function update() {
      var words = input.value.toLowerCase().trim();
      var shown = 0;
      items.forEach(function (item, index) {
        var match = !words || texts[index].indexOf(words) !== -1;
        item.hidden = !match;
        shown += match ? 1 : 0;
      });
      count.textContent = (words ? shown + " of " + items.length + " shown, " : "") + ticked() + " chosen";
    }

    input.addEventListener("input", update);
    // Enter in the filter filters; it must not send the whole form.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
      }
    });
    list.addEventListener("change", update);
    update();
  }

  document.querySelectorAll("[data-checklist]").forEach(setUp);
})();
