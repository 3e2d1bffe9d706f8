// nymwatch web console: small progressive enhancements. Every form and link
// works without this script.
"use strict";

(function () {
  // Same format as the server's humanDuration.
  function human(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + (s % 60) + "s";
    var h = Math.floor(m / 60);
    if (h < 24) return h + "h " + (m % 60) + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  // The server's clock at render time: live times count from it, so a
  // browser whose clock is off still shows the server's waiting times.
  var served = Date.parse(document.body.getAttribute("data-now"));
  var skew = isNaN(served) ? 0 : served - Date.now();

  // Keep "waiting" and "left until the deadline" live while the page is open.
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(t)) el.textContent = human(now - t);
    });
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(t)) return;
      var left = t - now;
      el.textContent = left > 0 ? human(left) + " left" : "overdue by " + human(-left);
    });
  }
  if (document.querySelector("[data-since], [data-deadline]")) {
    setInterval(tick, 15000);
  }

  // A copy button for the Markdown source, where the clipboard is available.
  var src = document.getElementById("report-md");
  if (src && navigator.clipboard && window.isSecureContext) {
    var details = src.closest("details");
    var btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = "Copy Markdown";
    var status = document.createElement("span");
    status.setAttribute("role", "status");
    status.className = "hint";
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(src.textContent).then(
        function () { status.textContent = " Copied."; },
        function () { status.textContent = " Could not copy: select the text instead."; });
    });
    details.insertBefore(btn, src);
    details.insertBefore(status, src);
  }

  // The list refreshes itself every minute (new drafts appear) unless the
  // human is using the filter form.
  if (document.getElementById("drafts-h") || document.getElementById("others-h")) {
    setInterval(function () {
      var a = document.activeElement;
      if (document.visibilityState === "visible" && !(a && a.closest && a.closest("form"))) {
        window.location.reload();
      }
    }, 60000);
  }
})();
