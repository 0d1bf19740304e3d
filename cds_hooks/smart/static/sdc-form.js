/* The SDC recording form: renders the Questionnaire with NLM LHC-Forms (served by this app from node_modules),
   pre-filled from the populated QuestionnaireResponse, and posts the clinician's response. No inline script. */
(function () {
  "use strict";
  var box = document.getElementById("sdc-form");
  if (!box || typeof LForms === "undefined") { return; }
  var questionnaire = JSON.parse(document.getElementById("sdc-questionnaire").textContent);
  var response = JSON.parse(document.getElementById("sdc-response").textContent);
  var submit = document.getElementById("sdc-submit");
  var errors = document.getElementById("sdc-errors");

  // SDC populate result → the items' initial answers (the proposals' sources are shown as display items).
  var answers = {};
  (response.item || []).forEach(function (it) { answers[it.linkId] = it.answer || []; });
  questionnaire.item.forEach(function (item) {
    var given = answers[item.linkId];
    if (given && given.length) {
      item.initial = given.map(function (a) {
        var copy = {};
        Object.keys(a).forEach(function (k) { if (k !== "extension") { copy[k] = a[k]; } });
        return copy;
      });
    }
  });

  function showErrors(messages) {
    errors.textContent = "";
    var h = document.createElement("h3");
    h.textContent = "Nothing was written — please correct:";
    var ul = document.createElement("ul");
    messages.forEach(function (m) { var li = document.createElement("li"); li.textContent = m; ul.appendChild(li); });
    errors.appendChild(h);
    errors.appendChild(ul);
    errors.hidden = false;
    errors.focus();
  }

  Promise.resolve(LForms.Util.addFormToPage(questionnaire, box, {})).then(function () {
    submit.disabled = false;
    box.setAttribute("data-ready", "true");
    var open = (box.getAttribute("data-open") || "").split(" ").filter(Boolean);
    if (open.length) {
      var field = box.querySelector("[id*='" + open[0].replace(/[^a-z0-9-]/gi, "") + "']");
      if (field) { field.scrollIntoView({block: "center"}); if (field.focus) { field.focus(); } }
    }
  }).catch(function () { showErrors(["The form could not be shown. Use the recording form on the pathway page."]); });

  submit.addEventListener("click", function () {
    var qr = LForms.Util.getFormFHIRData("QuestionnaireResponse", "R4", box, {subject: response.subject});
    qr.questionnaire = response.questionnaire;
    qr.subject = response.subject;
    qr.status = "completed";
    submit.disabled = true;
    fetch(box.getAttribute("data-submit"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/fhir+json", "X-CSRF-Token": box.getAttribute("data-csrf")},
      body: JSON.stringify(qr)
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (res.ok) {
        var next = (res.body.parameter || []).filter(function (p) { return p.name === "next"; })[0];
        window.location.assign(next ? next.valueUrl : "./");
        return;
      }
      showErrors((res.body.issue || []).map(function (i) { return i.diagnostics; }));
      submit.disabled = false;
    }).catch(function () {
      showErrors(["The server could not be reached. Nothing was written."]);
      submit.disabled = false;
    });
  });
}());
