// Live progress of a running rollout on the console's rollout page (progressive
// enhancement: without JavaScript the page has a "Refresh" link). Polls the JSON endpoint
// named by data-url every few seconds, updates the figures, and reloads the page once the
// rollout has stopped running, so its final steps show.
(function () {
  "use strict";
  var box = document.getElementById("rollout-progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-url");
  var text = box.querySelector("[data-progress-text]");
  var bar = box.querySelector("progress");
  var running = box.querySelector("[data-progress-running]");
  var template = text ? text.getAttribute("data-template") : "";
  var timer = null;

  function render(data) {
    if (text && template) {
      text.textContent = template
        .replace("{finished}", data.finished)
        .replace("{total}", data.total)
        .replace("{percent}", data.percent);
    }
    if (bar) { bar.value = data.percent; }
    if (running) { running.textContent = data.running.join(", ") || "–"; }
    Object.keys(data.counts).forEach(function (status) {
      var cell = box.querySelector('[data-count="' + status + '"]');
      if (cell) { cell.textContent = data.counts[status]; }
    });
    if (data.status !== "running" || data.halted !== (box.getAttribute("data-halted") === "true")) {
      window.clearInterval(timer);
      window.location.reload();
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { render(data); } })
      .catch(function () { /* the next poll tries again */ });
  }

  timer = window.setInterval(poll, 3000);
})();
