// Shoal dashboard: live updates and charts. Pages are complete without
// this script; it refreshes <main> once a second while the page is visible
// and its data can still change, and draws the charts from the JSON each
// page embeds. Charts draw time buckets, never one shape per task, so a
// job of 200,000 tasks draws as fast as one of ten.
"use strict";

const STAGE_COLOURS = ["#2364d2", "#1f8a4c", "#8e44ad", "#d35400", "#16a2b8", "#7f8c8d"];
const FAILED = "#c62828";
const REFRESH_MS = 1000;

function stageColour(i) { return STAGE_COLOURS[i % STAGE_COLOURS.length]; }

function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  const height = Number(canvas.getAttribute("height")) || 120;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width, height };
}

function secondsLabel(ms) {
  const s = ms / 1000;
  if (s < 60) return (s < 10 ? s.toFixed(1) : s.toFixed(0)) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0");
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0");
}

function timeAxis(ctx, left, right, y, spanMs) {
  ctx.fillStyle = "#6b7385";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "top";
  const ticks = Math.max(2, Math.floor((right - left) / 90));
  for (let i = 0; i <= ticks; i++) {
    const x = left + ((right - left) * i) / ticks;
    ctx.fillRect(x, y, 1, 4);
    ctx.textAlign = i === 0 ? "left" : i === ticks ? "right" : "center";
    ctx.fillText(secondsLabel((spanMs * i) / ticks), x, y + 5);
  }
}

/// How many buckets the axis spans: up to the job's end (or now).
function bucketSpan(data) {
  const longest = Math.max(data.done.length, ...data.lanes.map((l) => l.busy_us.length), 1);
  const elapsed = Math.ceil((data.end_ms - data.origin_ms) / data.bucket_ms);
  return Math.max(longest, elapsed, 1);
}

function drawTimeline(canvas, data) {
  const { ctx, width, height } = fitCanvas(canvas);
  const left = 130, right = width - 8, rowH = 26, top = 4;
  const span = bucketSpan(data);
  const bw = (right - left) / span;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  data.lanes.forEach((lane, row) => {
    const y = top + row * rowH;
    ctx.fillStyle = row % 2 ? "#fafbfc" : "#f1f3f6";
    ctx.fillRect(left, y, right - left, rowH - 2);
    ctx.fillStyle = "#1d2330";
    ctx.textAlign = "right";
    const name = lane.name.length > 18 ? lane.name.slice(0, 17) + "…" : lane.name;
    ctx.fillText(name, left - 6, y + rowH / 2);
    const capacity = data.bucket_ms * 1000 * lane.slots;
    for (let i = 0; i < lane.busy_us.length; i++) {
      const busy = lane.busy_us[i];
      if (busy > 0) {
        const h = Math.max(1, Math.min(1, busy / capacity) * (rowH - 4));
        ctx.fillStyle = stageColour(lane.stage[i]);
        ctx.fillRect(left + i * bw, y + rowH - 2 - h, Math.max(bw - 0.5, 0.5), h);
      }
      if (lane.failed[i] > 0) {
        ctx.fillStyle = FAILED;
        ctx.fillRect(left + i * bw, y, Math.max(bw, 2), 4);
      }
    }
  });
  timeAxis(ctx, left, right, top + data.lanes.length * rowH, span * data.bucket_ms);
  canvas.dataset.drawn = data.lanes.length + " lanes";
}

function drawThroughput(canvas, data) {
  const { ctx, width, height } = fitCanvas(canvas);
  const left = 60, right = width - 8, top = 16, bottom = height - 20;
  const span = bucketSpan(data);
  const bw = (right - left) / span;
  const perSecond = data.done.map((n) => (n * 1000) / data.bucket_ms);
  const peak = Math.max(1, ...perSecond);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "#2364d2";
  perSecond.forEach((rate, i) => {
    const h = (rate / peak) * (bottom - top);
    ctx.fillRect(left + i * bw, bottom - h, Math.max(bw - 0.5, 0.5), h);
  });
  ctx.fillStyle = "#6b7385";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText(formatRate(peak), left - 6, top);
  ctx.fillText("0", left - 6, bottom);
  ctx.textAlign = "left";
  ctx.fillText("tasks/s", 4, top + 14);
  timeAxis(ctx, left, right, bottom, span * data.bucket_ms);
  canvas.dataset.drawn = perSecond.length + " buckets";
}

function formatRate(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return n.toFixed(n < 10 ? 1 : 0);
}

function drawLegend(el, data) {
  el.replaceChildren(...data.stages.map((name, i) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.className = "s" + (i % STAGE_COLOURS.length);
    span.append(swatch, i + " " + name);
    return span;
  }));
}

function drawCharts(root) {
  const json = root.querySelector("script.chart-data");
  if (!json) return;
  const data = JSON.parse(json.textContent);
  const timeline = root.querySelector("canvas.timeline");
  const throughput = root.querySelector("canvas.throughput");
  const legend = root.querySelector(".legend");
  if (timeline) drawTimeline(timeline, data);
  if (throughput) drawThroughput(throughput, data);
  if (legend) drawLegend(legend, data);
}

function bindCancel(root) {
  const meta = document.querySelector('meta[name="shoal-cancel-token"]');
  root.querySelectorAll("button.cancel").forEach((button) => {
    button.addEventListener("click", async () => {
      if (!meta || !window.confirm("Cancel job " + button.dataset.cancel + "?")) return;
      button.disabled = true;
      const out = button.parentElement.querySelector(".cancel-result");
      const res = await fetch("/api/jobs/" + encodeURIComponent(button.dataset.cancel) + "/cancel", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-Shoal-Token": meta.content },
      });
      if (out) out.textContent = res.ok ? "cancelling…" : "refused (" + res.status + ")";
    });
  });
}

function setup(root) {
  drawCharts(root);
  bindCancel(root);
}

async function refresh(main) {
  if (document.hidden || main.dataset.live !== "true") return;
  const status = document.getElementById("live-status");
  try {
    const res = await fetch(main.dataset.refresh, { credentials: "same-origin", cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const html = await res.text();
    main.innerHTML = html;
    main.dataset.live = res.headers.get("X-Shoal-Live") || "false";
    setup(main);
    if (status) status.textContent = main.dataset.live === "true" ? "live" : "final";
  } catch (err) {
    if (status) status.textContent = "update failed: " + err.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const main = document.getElementById("live");
  if (!main) return;
  setup(main);
  // When the first view was complete, counted from navigation start: what
  // bench/ui.sh reports as the page's render time.
  main.dataset.renderMs = Math.round(performance.now());
  const status = document.getElementById("live-status");
  if (status) status.textContent = main.dataset.live === "true" ? "live" : "final";
  let timer = null;
  const tick = async () => {
    await refresh(main);
    timer = main.dataset.live === "true" ? setTimeout(tick, REFRESH_MS) : null;
  };
  if (main.dataset.live === "true") timer = setTimeout(tick, REFRESH_MS);
  window.addEventListener("resize", () => drawCharts(main));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer === null && main.dataset.live === "true") tick();
  });
});
