// Scripts run: the header may fold into a menu (without them it stays open).
document.documentElement.classList.add("js");
// Every htmx request carries the CSRF token in a header (no inline script: CSP).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
  }
});
// Errors from htmx requests are shown instead of silently swallowed.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if (status === 422 || status === 409 || status === 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
// A builder form with data-track-unsaved notes its first edit and shows the
// warning it names; a status form with data-guards-unsaved (Publish) asks before
// publishing the last saved version while that builder holds unsaved edits.
document.addEventListener("input", markUnsaved, true);
document.addEventListener("change", markUnsaved, true);
function markUnsaved(event) {
  var form = event.target.closest && event.target.closest("form[data-track-unsaved]");
  if (!form) return;
  form.setAttribute("data-dirty", "true");
  var warning = document.getElementById(form.getAttribute("data-track-unsaved"));
  if (warning) warning.hidden = false;
}
document.addEventListener("submit", function (event) {
  var guarded = event.target.getAttribute && event.target.getAttribute("data-guards-unsaved");
  var builder = guarded && document.getElementById(guarded);
  if (!builder || builder.getAttribute("data-dirty") !== "true") return;
  if (!window.confirm("This draft has unsaved edits. Publish the last saved version anyway?")) {
    event.preventDefault();
    event.stopPropagation();
  }
}, true);
// W5: the lead list's "select this page" box ticks every row; the count says how many are chosen.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (!target.matches || !target.matches(".select-page, .row-select, #select-all-matching")) {
    return;
  }
  var rows = document.querySelectorAll(".row-select");
  if (target.matches(".select-page")) {
    rows.forEach(function (box) { box.checked = target.checked; });
  }
  var all = document.getElementById("select-all-matching");
  var count = document.getElementById("bulk-count");
  var ticked = Array.prototype.filter.call(rows, function (box) { return box.checked; }).length;
  if (count) {
    count.textContent = all && all.checked ? "" : ticked ? ticked + " selected" : "";
  }
});
// The header's Menu button (narrow screens) opens and closes the navigation.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest && event.target.closest(".menu-toggle");
  if (!toggle) {
    return;
  }
  var open = toggle.closest(".topbar").classList.toggle("open");
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
});
// An inline form opened from its summary (add a note, edit an activity,
// disqualify…) puts the focus on its first field. "toggle" does not bubble:
// listen while it is captured.
document.addEventListener("toggle", function (event) {
  var details = event.target;
  if (details.tagName !== "DETAILS" || !details.open) {
    return;
  }
  var first = details.querySelector("input:not([type=hidden]), select, textarea");
  if (first) {
    first.focus();
  }
}, true);
