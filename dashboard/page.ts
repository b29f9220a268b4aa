/**
 * The dashboard page. Titles, help lines and panel boxes are in the HTML itself, so the
 * page shows its structure even before (or without) its script; the script draws each
 * panel with uPlot from `/api/panel/<id>` and writes any failure onto that panel.
 * Each panel box carries `data-state` (loading, drawn, empty, error) for the browser test.
 */
import type { SectionDef, Unit } from './panels.js';

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function dashboardPage(sections: readonly SectionDef[], o: { rangeS: number; refreshS: number; prometheus: string }): string {
  const units: Record<string, Unit> = Object.fromEntries(sections.flatMap((s) => s.panels.map((p) => [p.id, p.unit])));
  const body = sections
    .map(
      (s) =>
        `<section><h2>${escape(s.title)}</h2><div class="grid">${s.panels
          .map(
            (p) =>
              `<div class="panel" id="panel-${p.id}" data-panel="${p.id}" data-state="loading"><h3>${escape(p.title)}</h3><p class="help">${escape(p.help)}</p><div class="chart"></div><p class="msg">loading…</p></div>`,
          )
          .join('')}</div></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hearth</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/uPlot.min.css">
<style>
  body { margin: 0; background: #f4f4f2; color: #1d1d1b; font: 14px/1.4 system-ui, sans-serif; }
  header { padding: 10px 20px; background: #1f2a30; color: #fff; display: flex; gap: 16px; align-items: center; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header button { font: inherit; background: #34444c; color: #fff; border: 1px solid #5a6b73; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
  header button.on { background: #e0a030; color: #111; }
  header .src { margin-left: auto; opacity: 0.8; }
  section { padding: 4px 20px 10px; }
  h2 { font-size: 15px; margin: 14px 0 8px; text-transform: uppercase; letter-spacing: 0.04em; color: #555; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 12px; }
  .panel { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px; min-height: 250px; }
  .panel h3 { font-size: 14px; margin: 0; }
  .panel .help { margin: 2px 0 4px; color: #666; font-size: 12px; }
  .panel .msg { margin: 4px 0 0; font-size: 12px; color: #666; }
  .panel[data-state="error"] .msg { color: #a12; font-weight: 600; }
  .panel[data-state="empty"] .msg { color: #a60; }
</style>
</head>
<body>
<header><h1>Hearth</h1>
  <span>range</span><button data-range="900">15 min</button><button data-range="3600">1 h</button><button data-range="21600">6 h</button>
  <span class="src">from Prometheus at ${escape(o.prometheus)} · every ${o.refreshS} s · <span id="updated"></span></span>
</header>
${body}
<script src="/uPlot.iife.min.js"></script>
<script>
"use strict";
var UNITS = ${JSON.stringify(units)};
var REFRESH_S = ${o.refreshS};
var range = ${o.rangeS};
var charts = {};
var COLORS = ["#1f77b4", "#e6550d", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function num(v, digits) { return Number(v.toPrecision(digits || 3)).toString(); }
function bytes(v) {
  var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return num(v) + " " + u[i];
}
var FORMAT = {
  per_second: function (v) { return num(v) + "/s"; },
  seconds: function (v) { return v === 0 ? "0" : Math.abs(v) < 1 ? num(v * 1000) + " ms" : num(v) + " s"; },
  ratio: function (v) { return num(v * 100) + " %"; },
  bytes: bytes,
  bytes_per_second: function (v) { return bytes(v) + "/s"; },
  count: function (v) { return num(v); },
  quality: function (v) { return "q" + Math.round(v); }
};

function setState(box, state, msg) {
  box.setAttribute("data-state", state);
  box.querySelector(".msg").textContent = msg;
}

function draw(box, data) {
  var id = data.id, fmt = FORMAT[UNITS[id]] || FORMAT.count;
  var el = box.querySelector(".chart");
  var key = data.series.map(function (s) { return s.name; }).join("\\u0000");
  var cols = [data.x].concat(data.series.map(function (s) { return s.values; }));
  var c = charts[id];
  if (c && c.key === key) { c.plot.setData(cols); return; }
  if (c) c.plot.destroy();
  var opts = {
    width: Math.max(300, el.clientWidth || 420), height: 170,
    legend: { show: true },
    scales: { x: { time: true } },
    axes: [{}, { size: 64, values: function (u, vals) { return vals.map(function (v) { return v == null ? "" : fmt(v); }); } }],
    series: [{}].concat(data.series.map(function (s, i) {
      return { label: s.name, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, value: function (u, v) { return v == null ? "–" : fmt(v); } };
    }))
  };
  charts[id] = { key: key, plot: new uPlot(opts, cols, el) };
}

function refresh(box) {
  var id = box.getAttribute("data-panel");
  return fetch("/api/panel/" + id + "?range=" + range, { cache: "no-store" })
    .then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || ("HTTP " + r.status)); return j; });
    })
    .then(function (data) {
      var points = data.series.reduce(function (n, s) { return n + s.values.filter(function (v) { return v !== null; }).length; }, 0);
      if (data.series.length > 0) draw(box, data);
      if (data.errors.length > 0) setState(box, "error", data.errors.join(" · "));
      else if (points === 0) setState(box, "empty", "no data in this range yet");
      else setState(box, "drawn", data.series.length + " series");
    })
    .catch(function (e) { setState(box, "error", "the dashboard did not answer: " + e.message); });
}

function refreshAll() {
  var boxes = Array.prototype.slice.call(document.querySelectorAll(".panel"));
  return Promise.all(boxes.map(refresh)).then(function () {
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  });
}

Array.prototype.forEach.call(document.querySelectorAll("button[data-range]"), function (b) {
  if (Number(b.getAttribute("data-range")) === range) b.className = "on";
  b.addEventListener("click", function () {
    range = Number(b.getAttribute("data-range"));
    Array.prototype.forEach.call(document.querySelectorAll("button[data-range]"), function (o) { o.className = o === b ? "on" : ""; });
    refreshAll();
  });
});
if (typeof uPlot === "undefined") {
  Array.prototype.forEach.call(document.querySelectorAll(".panel"), function (b) { setState(b, "error", "the chart library did not load (/uPlot.iife.min.js)"); });
} else {
  refreshAll();
  setInterval(refreshAll, REFRESH_S * 1000);
}
</script>
</body>
</html>
`;
}
