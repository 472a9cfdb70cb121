// Saves a member's answers as they go, so a closed tab or a lost connection costs nothing.
// The form works without this script; it only adds the saving between questions.
(function () {
  "use strict";
  var form = document.querySelector("form[data-draft-url]");
  if (!form) { return; }
  var status = document.getElementById("draft-status");
  var token = form.querySelector("input[name=csrf_token]").value;

  function answers() {
    var result = {};
    form.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
      result[input.name] = input.value;
    });
    return result;
  }

  function say(text) {
    if (status) { status.textContent = text; }
  }

  form.addEventListener("change", function () {
    fetch(form.dataset.draftUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(answers()),
      credentials: "same-origin"
    }).then(function (response) {
      say(response.ok ? form.dataset.savedText : form.dataset.failedText);
    }).catch(function () {
      say(form.dataset.failedText);
    });
  });
}());
