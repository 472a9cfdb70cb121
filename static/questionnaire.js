// The member's questionnaire (personal link and tablet round). The form works without this script: native
// radio buttons, every question shown, one send. The script adds three things:
//  - a scale whose row of steps does not fit at 44 px a step (0..10 on a phone) becomes a slider; the radio
//    buttons stay the form's values, and a slider shows no thumb until it is answered;
//  - a questionnaire in parts (alliance16: one dimension each) shows one part at a time, with Previous/Next;
//  - the answers are saved as the member goes (link only), so a closed tab or a lost connection costs nothing.
(function () {
  "use strict";
  var form = document.querySelector("form.questions");
  if (!form) { return; }
  var STEP = 44;  // px: the smallest target a finger hits reliably, and the slider's thumb
  var GAP = 5;    // px: about the gap between steps (questionnaire.css --gap)
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var fits = [];

  // ---- A long scale as a slider where its steps do not fit ----

  function nameOf(radio) {
    return radio.getAttribute("aria-label") || radio.parentNode.textContent.replace(/\s+/g, " ").trim();
  }

  function slider(answers) {
    var radios = Array.prototype.slice.call(answers.querySelectorAll("input[type=radio]"));
    var steps = answers.querySelector(".steps");
    var fieldset = answers.closest("fieldset");
    var input = document.createElement("input");
    var moved = false;
    input.type = "range";
    input.className = "slider";
    input.min = radios[0].value;
    input.max = radios[radios.length - 1].value;
    input.step = "1";
    input.hidden = true;
    input.setAttribute("aria-labelledby", fieldset.querySelector("legend").id);
    if (fieldset.hasAttribute("aria-describedby")) {
      input.setAttribute("aria-describedby", fieldset.getAttribute("aria-describedby"));
    }
    answers.insertBefore(input, steps);

    function checked() {
      return radios.filter(function (radio) { return radio.checked; })[0];
    }

    function show() {
      var radio = checked();
      answers.classList.toggle("unanswered", !radio);
      if (radio) {
        input.value = radio.value;
        input.setAttribute("aria-valuetext", nameOf(radio));
      } else {
        input.value = String(Math.round((Number(input.min) + Number(input.max)) / 2));
        input.setAttribute("aria-valuetext", form.dataset.unansweredText);
      }
    }

    // Answer with the slider's value; ``tell`` announces it to the form (the draft saving listens).
    function choose(tell) {
      var radio = radios.filter(function (r) { return r.value === input.value; })[0];
      if (!radio) { return; }
      var changed = !radio.checked;
      radio.checked = true;
      show();
      if (changed && tell) { radio.dispatchEvent(new Event("change", { bubbles: true })); }
    }

    input.addEventListener("pointerdown", function () { moved = false; });
    input.addEventListener("input", function () { moved = true; choose(false); });
    // A tap where the unanswered slider already stands changes nothing natively; some browsers (iOS) do not
    // move the thumb to a tap on the line at all: the tap's place decides.
    input.addEventListener("click", function (event) {
      if (!moved && event.detail > 0) {
        var box = input.getBoundingClientRect();
        var share = Math.min(1, Math.max(0, (event.clientX - box.left - STEP / 2) / (box.width - STEP)));
        input.value = String(Math.round(Number(input.min) + share * (input.max - input.min)));
      }
      choose(true);
    });
    // Enter or Space answers an unanswered slider with the value it stands on (the middle).
    input.addEventListener("keydown", function (event) {
      if ((event.key === "Enter" || event.key === " ") && !checked()) {
        event.preventDefault();
        choose(true);
      }
    });
    answers.addEventListener("change", function (event) { if (event.target !== input) { show(); } });

    function fit() {
      var width = answers.clientWidth;
      if (!width) { return; }  // in a hidden part: measured when shown
      var wide = width >= radios.length * STEP + (radios.length - 1) * GAP;
      answers.classList.toggle("as-slider", !wide);
      input.hidden = wide;
      if (wide) { steps.removeAttribute("aria-hidden"); } else { steps.setAttribute("aria-hidden", "true"); }
    }

    show();
    fits.push(fit);
  }

  each(form.querySelectorAll(".answers[data-slider]"), slider);

  function fitAll() { fits.forEach(function (fit) { fit(); }); }
  window.addEventListener("resize", fitAll);

  // ---- A questionnaire in parts: one at a time ----

  var parts = form.querySelectorAll("section.part");
  if (parts.length > 1) {
    var send = form.querySelector(".send");
    var submit = send.querySelector("button[type=submit]");
    var current = 0;
    var button = function (text, go, secondary) {
      var made = document.createElement("button");
      made.type = "button";
      made.className = secondary ? "button secondary" : "button";
      made.dataset.go = go;
      made.textContent = text;
      send.insertBefore(made, submit);
      return made;
    };
    var previous = button(form.dataset.previousText, "previous", true);
    var next = button(form.dataset.nextText, "next", false);
    var partOf = function (element) {
      return Array.prototype.indexOf.call(parts, element && element.closest("section.part"));
    };
    var showPart = function (index, focus) {
      current = index;
      each(parts, function (part, i) { part.hidden = i !== index; });
      previous.hidden = index === 0;
      next.hidden = index === parts.length - 1;
      submit.hidden = index !== parts.length - 1;
      fitAll();
      if (focus) {
        var heading = parts[index].querySelector("h2");
        heading.focus({ preventScroll: true });
        heading.scrollIntoView({ block: "start" });
      }
    };
    form.classList.add("paging");
    previous.addEventListener("click", function () { showPart(current - 1, true); });
    next.addEventListener("click", function () { showPart(current + 1, true); });
    // The error summary's links lead to their question's part.
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[href^='#q-']");
      var index = link ? partOf(document.getElementById(link.getAttribute("href").slice(1))) : -1;
      if (index >= 0) { showPart(index, false); }
    });
    var problem = form.querySelector(".has-error");
    showPart(problem ? Math.max(0, partOf(problem)) : 0, false);
  } else {
    fitAll();
  }

  // ---- Saving as the member goes (a link only, not the tablet round) ----

  if (!form.dataset.draftUrl) { return; }
  var status = document.getElementById("draft-status");
  var token = form.querySelector("input[name=csrf_token]").value;

  function answers() {
    var result = {};
    each(form.querySelectorAll("input[type=radio]:checked"), function (input) {
      result[input.name] = input.value;
    });
    return result;
  }

  function say(text) {
    if (status) { status.textContent = text; }
  }

  // One save at a time, the newest answers last: a quick run of changes (a slider moved by its keys) never
  // lets an older save land after a newer one.
  var saving = false;
  var again = false;
  function save() {
    if (saving) { again = true; return; }
    saving = true;
    fetch(form.dataset.draftUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(answers()),
      credentials: "same-origin"
    }).then(function (response) {
      say(response.ok ? form.dataset.savedText : form.dataset.failedText);
      return response.text();  // read to the end, so the connection is done with
    }).catch(function () {
      say(form.dataset.failedText);
    }).then(function () {
      saving = false;
      if (again) { again = false; save(); }
    });
  }

  form.addEventListener("change", save);
}());
