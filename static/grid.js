// The grid of a session (paper forms typed in, the therapist's view). The form works without this script:
// the server checks every cell and answers in the page's language. The script checks each cell as it is
// typed: a value off the scale is marked at once (aria-invalid and the message under the cell, worded by the
// page in data-outside, "{value}" standing for what was typed); a value that is not a whole number is marked
// when the cell is left (a lone "-" is a number still being typed). A form with a marked cell is not sent:
// the first such cell gets the focus, so nothing typed is lost to a value the browser could not read.
(function () {
  "use strict";
  var form = document.querySelector("form[data-grid]");
  if (!form) { return; }
  var outside = form.getAttribute("data-outside") || "";
  var notWhole = form.getAttribute("data-not-whole") || "";
  var WHOLE = /^[+-]?[0-9]+$/;
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=number]"));

  // What is wrong with a cell ("" when fine); while typing, an unfinished number is not judged yet.
  function problem(input, typing) {
    if (input.validity.badInput) { return typing ? "" : notWhole; }
    var value = input.value.trim();
    if (value === "") { return ""; }
    if (!WHOLE.test(value)) { return typing && /[.,eE]$/.test(value) ? "" : notWhole; }
    var number = parseInt(value, 10);
    if (number < Number(input.min) || number > Number(input.max)) { return outside.replace("{value}", value); }
    return "";
  }

  function show(input, message) {
    var note = document.getElementById("e-" + input.id.slice(2));
    var cell = input.closest("td");
    if (message) {
      input.setAttribute("aria-invalid", "true");
      cell.classList.add("has-error");
    } else {
      input.removeAttribute("aria-invalid");
      cell.classList.remove("has-error");
    }
    if (note && note.textContent !== message) { note.textContent = message; }
  }

  function check(input, typing) {
    var message = problem(input, typing);
    // What the server said of a cell (someone else saved it meanwhile) stays until the cell is changed.
    if (!message && !input.hasAttribute("data-edited")) { return ""; }
    show(input, message);
    return message;
  }

  inputs.forEach(function (input) {
    input.addEventListener("input", function () {
      input.setAttribute("data-edited", "");
      check(input, true);
    });
    input.addEventListener("change", function () { check(input, false); });
    input.addEventListener("blur", function () { check(input, false); });
  });

  form.addEventListener("submit", function (event) {
    var first = null;
    inputs.forEach(function (input) {
      if (check(input, false) && !first) { first = input; }
    });
    if (first) {
      event.preventDefault();
      first.focus();
    }
  });
})();
