// Ordering questions: "Move up" / "Move down" buttons for keyboard and pointer users. Without this script the
// position selects alone do the job; with it, the list, the selects and a spoken status stay in step. Also turns on
// the "Retry my wrong answers" button when its pause is over.
(function () {
  "use strict";

  // The first item cannot move up nor the last move down: those buttons are disabled, and say why to screen readers.
  function renumber(list) {
    var last = list.children.length - 1;
    Array.from(list.children).forEach(function (li, index) {
      li.querySelector("select").value = String(index + 1);
      var up = li.querySelector('.move[data-move="up"]');
      var down = li.querySelector('.move[data-move="down"]');
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === last;
    });
  }

  function announce(list, li) {
    var status = list.parentElement.querySelector("[data-order-status]");
    var position = Array.from(list.children).indexOf(li) + 1;
    var text = li.querySelector(".item-text").textContent.trim();
    if (status) status.textContent = "Moved “" + text + "” to position " + position + " of " + list.children.length + ".";
  }

  function enable(root) {
    root.querySelectorAll("[data-ordering] .move").forEach(function (button) { button.hidden = false; });
    root.querySelectorAll("[data-ordering] .order-list").forEach(renumber);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-ordering] .move");
    if (!button) return;
    var li = button.closest("li");
    var list = li.parentElement;
    if (button.dataset.move === "up" && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
    else if (button.dataset.move === "down" && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
    else return;
    renumber(list);
    // Moving the item in the DOM drops focus in some browsers; at an end the pressed button is now disabled, so
    // focus goes to its partner instead.
    (button.disabled ? li.querySelector(".move:not(:disabled)") : button).focus();
    announce(list, li);
  });

  // Choosing a position in a select swaps places with the item that held it, so positions stay 1..n.
  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-ordering] select");
    if (!select) return;
    var li = select.closest("li");
    var list = li.parentElement;
    var target = list.children[Number(select.value) - 1];
    if (!target || target === li) return;
    var marker = document.createElement("li");
    list.replaceChild(marker, target);
    list.replaceChild(target, li);
    list.replaceChild(li, marker);
    renumber(list);
    select.focus();
    announce(list, li);
  });

  // "Retry my wrong answers" opens a while after the attempt ended, and its button says when. At that moment (plus a
  // second, so the server agrees) turn it on, drop the "available at" words and tell screen readers.
  function armRetry(root) {
    root.querySelectorAll("button[data-opens-in-ms]").forEach(function (button) {
      var wait = Math.min(Number(button.dataset.opensInMs) + 1000, 2147483647);
      button.removeAttribute("data-opens-in-ms");
      window.setTimeout(function () {
        var when = button.querySelector(".retry-when");
        if (when) when.remove();
        button.disabled = false;
        var status = button.closest(".retry").querySelector("[data-retry-status]");
        if (status) status.textContent = "You can retry your wrong answers now.";
      }, wait);
    });
  }

  enable(document);
  armRetry(document);
  document.addEventListener("htmx:load", function (event) { enable(event.target); armRetry(event.target); });
})();
