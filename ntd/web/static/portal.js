// Enhancements only: every page works without this file (no inline scripts; the CSP allows
// scripts from 'self' alone).
(function () {
  "use strict";
  // A form whose button carries data-confirm asks before it posts (e.g. take down).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Say how many listings a chosen CSV file holds, before it is uploaded.
  document.querySelectorAll("input[type=file][data-count-rows]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("data-count-rows"));
    if (!out || !window.FileReader) { return; }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) { out.textContent = ""; return; }
      var reader = new FileReader();
      reader.onload = function () {
        var rows = String(reader.result).split(/\r?\n/).filter(function (l) { return l.trim(); });
        out.textContent = rows.length + " non-empty rows (at most 300 listings, a header row aside)";
      };
      reader.readAsText(file);
    });
  });
})();
