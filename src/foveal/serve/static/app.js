// foveal serve's page: predictions on dropped, chosen or pasted images, and the runs browser. Plain JavaScript, no
// build step; every request goes through api(), which adds the API key once the server has asked for it.
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];
let current = null;   // the image being shown (a File)
let timer = null;

function key() { return localStorage.getItem("foveal-api-key") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (key()) headers["X-API-Key"] = key();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $("key-box").hidden = false;
    $("api-key").focus();
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${message}`);
  }
  return response;
}

function cell(row, text, tag = "td") {
  const c = document.createElement(tag);
  c.textContent = text;
  row.appendChild(c);
  return c;
}

function fillTable(table, header, rows) {
  table.replaceChildren();
  const head = table.insertRow();
  header.forEach((h) => cell(head, h, "th"));
  rows.forEach((r) => { const row = table.insertRow(); r.forEach((v) => cell(row, v)); });
}

function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(4);
  return v === null || v === undefined ? "" : String(v);
}

// --- predict ---------------------------------------------------------------------------------------------------

function selected() { return models.find((m) => m.name === $("model").value); }

function showControls() {
  const m = selected();
  if (!m) return;
  $("conf-box").hidden = !("conf" in m.options);
  $("topk-box").hidden = !("top_k" in m.options);
  $("model-info").textContent = `${m.task} · ${m.model} · ${m.format} · ${m.classes.length} classes · ` +
    `${m.input_size.join("×")}`;
}

async function loadModels() {
  try {
    models = await (await api("/v1/models")).json();
  } catch (e) { $("status").textContent = e.message; $("status").className = "error"; return; }
  $("model").replaceChildren(...models.map((m) => new Option(`${m.name} (${m.task})`, m.name)));
  showControls();
}

function query(draw) {
  const m = selected();
  const q = new URLSearchParams({ model: m.name });
  if ("conf" in m.options) q.set("conf", $("conf").value);
  if ("top_k" in m.options) q.set("top_k", $("top-k").value);
  if (draw) q.set("draw", "true");
  return q.toString();
}

async function predict(file) {
  current = file;
  const m = selected();
  if (!m || !file) return;
  $("status").className = "";
  $("status").textContent = `predicting ${file.name || "the pasted image"}…`;
  const body = () => { const f = new FormData(); f.append("image", file, file.name || "pasted.png"); return f; };
  try {
    const [json, png] = await Promise.all([
      api(`/v1/predict?${query(false)}`, { method: "POST", body: body() }).then((r) => r.json()),
      api(`/v1/predict?${query(true)}`, { method: "POST", body: body() }).then((r) => r.blob()),
    ]);
    showResult(m, json[0]);
    $("result-image").src = URL.createObjectURL(png);
    $("status").textContent = "";
  } catch (e) {
    $("status").textContent = e.message;
    $("status").className = "error";
  }
}

function showResult(m, r) {
  const table = $("result-table");
  if (r.top) {
    $("result-label").textContent = `${r.label} ${(100 * r.confidence).toFixed(1)}%`;
    fillTable(table, ["label", "probability"], r.top.map((t) => [t.label, `${(100 * t.probability).toFixed(1)}%`]));
  } else if (r.objects) {
    const counts = Object.entries(r.counts).map(([c, n]) => `${n} ${c}`).join(", ");
    $("result-label").textContent = `${r.objects.length} object(s)${counts ? ": " + counts : ""}`;
    fillTable(table, ["class", "confidence", "box (x1, y1, x2, y2)"],
      r.objects.map((o) => [o.class, o.confidence.toFixed(3), o.box.map((v) => v.toFixed(0)).join(", ")]));
  } else {
    $("result-label").textContent = r.classes.slice(0, 3).map((c) => `${c.class} ${(100 * c.fraction).toFixed(1)}%`).join(", ");
    fillTable(table, ["class", "share of the image", "pixels"],
      r.classes.map((c) => [c.class, `${(100 * c.fraction).toFixed(1)}%`, c.pixels]));
  }
}

function firstImage(items) {
  for (const item of items || []) {
    const file = item.getAsFile ? (item.kind === "file" ? item.getAsFile() : null) : item;
    if (file && file.type.startsWith("image/")) return file;
  }
  return null;
}

function wirePredict() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    predict(firstImage(e.dataTransfer.files));
  });
  document.addEventListener("paste", (e) => { const f = firstImage(e.clipboardData.items); if (f) predict(f); });
  $("file").addEventListener("change", (e) => predict(e.target.files[0]));
  $("model").addEventListener("change", () => { showControls(); if (current) predict(current); });
  const again = () => { clearTimeout(timer); timer = setTimeout(() => current && predict(current), 250); };
  $("conf").addEventListener("input", () => { $("conf-value").textContent = $("conf").value; again(); });
  $("top-k").addEventListener("change", again);
}

// --- runs ------------------------------------------------------------------------------------------------------

async function picture(path) {
  const img = document.createElement("img");
  img.alt = path;
  img.title = path;
  api(`/files/${path.split("/").map(encodeURIComponent).join("/")}`)
    .then((r) => r.blob()).then((b) => { img.src = URL.createObjectURL(b); })
    .catch((e) => { img.alt = e.message; });
  return img;
}

async function loadRuns() {
  let runs;
  try {
    runs = await (await api("/v1/runs")).json();
  } catch (e) { $("runs-status").textContent = e.message; return; }
  $("runs-status").textContent = `${runs.length} run(s)`;
  const table = $("runs-table");
  table.replaceChildren();
  const head = table.insertRow();
  ["", "run", "task", "model", "data", "epochs", "metric"].forEach((h) => cell(head, h, "th"));
  for (const r of runs) {
    const row = table.insertRow();
    const box = document.createElement("input");
    box.type = "checkbox"; box.value = r.name; box.className = "pick";
    box.addEventListener("change", () => {
      $("compare").disabled = document.querySelectorAll(".pick:checked").length < 2;
    });
    row.insertCell().appendChild(box);
    const link = document.createElement("a");
    link.href = "#"; link.textContent = r.name; link.className = "run-link";
    link.addEventListener("click", (e) => { e.preventDefault(); showRun(r.name); });
    row.insertCell().appendChild(link);
    [r.task, r.model, r.data, r.epochs, r.metric ? `${r.metric} ${fmt(r.value)}` : ""].forEach((v) => cell(row, fmt(v)));
  }
}

async function showRun(name) {
  const out = $("run-detail");
  out.replaceChildren();
  let run;
  try { run = await (await api(`/v1/runs/${name.split("/").map(encodeURIComponent).join("/")}`)).json(); }
  catch (e) { out.textContent = e.message; return; }
  const title = document.createElement("h2");
  title.textContent = `${run.name}: ${run.task || ""} ${run.model || ""}`;
  out.appendChild(title);
  const scalars = Object.entries(run.metrics).filter(([, v]) => typeof v !== "object" || v === null);
  const table = document.createElement("table");
  table.id = "run-metrics";
  fillTable(table, ["metric", "value"], scalars.map(([k, v]) => [k, fmt(v)]));
  out.appendChild(table);
  for (const p of run.pictures) out.appendChild(await picture(p));
}

async function compareRuns() {
  const names = [...document.querySelectorAll(".pick:checked")].map((b) => b.value);
  const out = $("run-detail");
  out.replaceChildren();
  const q = new URLSearchParams();
  names.forEach((n) => q.append("run", n));
  try {
    const c = await (await api(`/v1/compare?${q}`)).json();
    const table = document.createElement("table");
    table.id = "compare-table";
    fillTable(table, c.columns, c.rows.map((r) => c.columns.map((k) => fmt(r[k]))));
    const title = document.createElement("h2");
    title.textContent = `${names.length} runs compared`;
    out.append(title, table);
  } catch (e) { out.textContent = e.message; }
}

// --- the page --------------------------------------------------------------------------------------------------

function show(view) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.view === view));
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${view}`; });
  if (view === "runs") loadRuns();
}

document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => show(t.dataset.view)));
$("api-key").value = key();
$("api-key").addEventListener("change", () => { localStorage.setItem("foveal-api-key", $("api-key").value); loadModels(); });
$("compare").addEventListener("click", compareRuns);
wirePredict();
loadModels();
