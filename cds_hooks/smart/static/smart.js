// Minimal progressive enhancement: the page works without it.
(function () {
  "use strict";
  // Pin this tab to its own launch: a reload or a later form post must never show another tab's patient.
  var pin = document.querySelector("meta[name='nelm-page-url']");
  if (pin && window.history && history.replaceState) {
    var want = pin.getAttribute("content");
    if (want && location.pathname + location.search !== want) { history.replaceState(null, "", want + location.hash); }
  }
  var focus = document.querySelector("details[data-focus]");
  if (focus && !location.hash) { focus.scrollIntoView({block: "start"}); focus.querySelector("summary").focus(); }
  var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (target && target.tagName === "DETAILS") { target.open = true; }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  else if (location.hash === "#changes") { var c = document.getElementById("changes"); if (c) { c.focus(); } }
  document.addEventListener("click", function (e) {
    var el = e.target;
    if (el.matches && el.matches("[data-print]")) { window.print(); }
    // A gap's "Record …" button opens the recording form for that gap as a modal dialog.
    var opener = el.closest ? el.closest("[data-open]") : null;
    if (opener) {
      var dlg = document.getElementById(opener.getAttribute("data-open"));
      if (dlg && dlg.showModal) {
        dlg.showModal();
        var first = dlg.querySelector("input:not([type=hidden]), select, textarea");
        if (first) { first.focus(); }
      }
    }
    if (el.matches && el.matches("[data-close]")) { var d0 = el.closest("dialog"); if (d0) { d0.close(); } }
    if (el.matches && el.matches("[data-expand]")) {
      var open = el.getAttribute("data-expand") === "open";
      document.querySelectorAll("details.modality").forEach(function (d) { d.open = open; });
    }
    var link = el.closest ? el.closest("a[href^='#m-']") : null;
    if (link) { var d = document.getElementById(link.getAttribute("href").slice(1)); if (d) { d.open = true; } }
  });
})();
