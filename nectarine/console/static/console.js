/* The console's charts: uPlot, drawn from the JSON text of the page's hidden #chart-data (data, not code: CSP-safe),
   on first load and again after every htmx swap (boosted links and filter forms). */
(function () {
  "use strict";
  var COLORS = ["#2f6fdf", "#e0672b", "#2a9d5b", "#a23cc8", "#c9a227", "#d13b5a"];
  var LABELS = {
    questions: "questions", deflection_rate: "deflection rate", handoff_rate: "handoff rate", thumbs_up: "thumbs up",
    thumbs_down: "thumbs down", declines: "declines", latency_p50_ms: "p50 ms", latency_p95_ms: "p95 ms"
  };

  function draw() {
    var holder = document.getElementById("chart-data");
    if (!holder || typeof uPlot === "undefined") return;
    var data = JSON.parse(holder.textContent);
    var xs = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
    document.querySelectorAll("figure.chart").forEach(function (fig) {
      fig.querySelectorAll(".uplot").forEach(function (el) { el.remove(); });
      var names = fig.dataset.series ? fig.dataset.series.split(",") : [];
      var source = fig.dataset.chart === "tickets" ? data.tickets_by_priority : data.series;
      var series = [{}], columns = [xs];
      names.forEach(function (name, i) {
        series.push({ label: LABELS[name] || name, stroke: COLORS[i % COLORS.length], width: 2 });
        columns.push(source[name] || xs.map(function () { return null; }));
      });
      var width = Math.max(320, fig.clientWidth - 24);
      new uPlot({ width: width, height: 190, series: series, scales: { x: { time: true } }, cursor: { drag: { x: false } } }, columns, fig);
      fig.dataset.drawn = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
