// sisr web app: plain JS, no build step. Talks to the JSON API under /api.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { files: [], models: [], jobs: new Map(), groups: [], current: null, view: { z: 1, x: 0, y: 0 } };

function showError(text) { // shown where it is seen: the controls scroll, and it sits below them
  const el = $("error");
  el.textContent = text || "";
  if (text) el.scrollIntoView({ block: "nearest" });
}

async function api(path, options) {
  const r = await fetch(path, options);
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) {
    const err = new Error((body && body.error) || `${r.status} ${r.statusText}`);
    err.status = r.status;
    err.retryAfter = Number(r.headers.get("retry-after")) || 2;
    throw err;
  }
  return body;
}
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---- models -------------------------------------------------------------------------------------
async function loadModels() {
  const { models } = await api("/api/models");
  state.models = models;
  const sel = $("model");
  for (const m of models) {
    const o = new Option(`${m.name} (${m.own ? "yours" : m.kind})`, m.name, m.default, m.default);
    sel.add(o);
    const id = `cmp-${m.name}`;
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" id="${id}" value="${m.name}"> ${m.name}`;
    $("compare-models").append(label);
  }
  sel.addEventListener("change", onModel);
  onModel();
}

function currentModel() { return state.models.find((m) => m.name === $("model").value); }

function onModel() {
  const m = currentModel();
  $("model-desc").textContent = m ? m.description : "";
  const scale = $("scale"), keep = scale.value;
  scale.innerHTML = "";
  const top = Math.max(...m.scales), steps = [...m.scales];
  // halves between (x2.5): the model's next scale up, then a resize to that size, as --scale 2.5
  for (let f = 1.5; f < top; f += 1) steps.push(f);
  for (const s of steps.sort((a, b) => a - b)) {
    const native = m.scales.includes(s) || m.kind === "interpolation";  // bicubic resizes once, straight there
    const label = native ? `x${s}` : `x${s} (x${Math.min(...m.scales.filter((n) => n > s))}, resized)`;
    scale.add(new Option(label, s, false, String(s) === keep || (!keep && s === top)));
  }
  scale.add(new Option("x1: restore at the input's size", 1, false, keep === "1"));
  onScale();
  $("tile").disabled = !m.tiling;
  $("ensemble").disabled = !m.ensemble;
  $("denoise").disabled = !m.denoise;
}
$("denoise").addEventListener("input", () => { $("denoise-value").textContent = Number($("denoise").value).toFixed(2); });

// ---- input --------------------------------------------------------------------------------------
function pick(files) {
  files = [...files].filter(Boolean);
  if (!files.length) return;
  state.files = files;
  const kb = Math.round(files.reduce((n, f) => n + f.size, 0) / 1024);
  $("picked").textContent = files.length === 1 ? `${files[0].name || "pasted image"} (${kb} KB)` : `${files.length} images (${kb} KB)`;
  showError("");
  onOutput();
}
$("file").addEventListener("change", (e) => pick(e.target.files));
const drop = $("drop");
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); pick(e.dataTransfer.files); });
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
  if (item) pick([item.getAsFile()]);
});

// ---- jobs ---------------------------------------------------------------------------------------
// One job; a full queue (429) is waited out, so that a folder's worth of images goes in as room frees.
async function submit(model, options, file, reference = false) {
  const fd = new FormData();
  fd.append("file", file, file.name || "pasted.png");
  fd.append("model", model);
  fd.append("scale", $("scale").value);
  for (const [k, v] of Object.entries(options)) if (v !== "" && v !== false && v != null) fd.append(k, v);
  let id;
  for (;;) {
    try {
      ({ id } = await api("/api/jobs", { method: "POST", body: fd }));
      break;
    } catch (err) {
      if (err.status !== 429) throw err;
      showError(`${err.message}; waiting`);
      await sleep(err.retryAfter * 1000);
      showError("");
    }
  }
  const name = file.name || "pasted.png";
  const job = { id, model, name, reference, status: "queued", progress: 0, eta_s: null, seconds: 0, error: "" };
  state.jobs.set(id, job);
  renderJob(job);
  follow(id);
  return id;
}

// The format the result is written in, as far as the page can tell ("" keeps the upload's).
function outputFormat() {
  const f = $("format").value;
  if (f) return f;
  const kinds = new Set(state.files.map((file) => ({ "image/jpeg": "jpg", "image/webp": "webp", "image/avif": "avif" })[file.type] || ""));
  return kinds.size === 1 ? [...kinds][0] : ""; // a quality for some files and not others would be refused
}
function onOutput() { $("quality").disabled = !["jpg", "webp", "avif"].includes(outputFormat()); }
$("format").addEventListener("change", onOutput);
function onScale() {  // x1 and a fractional scale set the size themselves
  const f = Number($("scale").value);
  for (const id of ["width", "height"]) $(id).disabled = f === 1 || !Number.isInteger(f);
}
$("scale").addEventListener("change", onScale);

function outputOptions() {
  const size = $("width").disabled ? {} : { width: $("width").value, height: $("height").value };
  const quality = $("quality").disabled ? "" : $("quality").value;
  return { format: $("format").value, quality, strip_metadata: $("strip").checked ? "1" : "", ...size };
}

function userOptions(m) {
  return {
    ensemble: m.ensemble && $("ensemble").checked ? "1" : "",
    precision: $("precision").value,
    tile: m.tiling ? $("tile").value : "",
    denoise: m.denoise ? $("denoise").value : "",
    ...outputOptions(),
  };
}

function follow(id) {
  const es = new EventSource(`/api/jobs/${id}/events`);
  es.onmessage = (e) => {
    const data = JSON.parse(e.data);
    Object.assign(state.jobs.get(id) || {}, data);
    renderJob(state.jobs.get(id));
    if (["done", "failed", "cancelled"].includes(data.status)) { es.close(); refreshView(); }
  };
  // A dropped stream reconnects by itself; one that cannot (the job is gone) is read once more.
  es.onerror = async () => {
    if (es.readyState !== EventSource.CLOSED) return;
    try { Object.assign(state.jobs.get(id) || {}, await api(`/api/jobs/${id}`)); } catch (err) { showError(err.message); }
    renderJob(state.jobs.get(id));
    refreshView();
  };
}

function eta(job) {
  if (job.status !== "running") return "";
  return job.eta_s == null ? " (estimating time)" : ` (about ${Math.ceil(job.eta_s)} s left)`;
}

function renderJob(job) {
  if (!job) return;
  let li = document.querySelector(`li[data-id="${job.id}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.id = job.id;
    li.tabIndex = 0;
    li.innerHTML = `<div><strong class="name"></strong> <span class="file"></span> <span class="state"></span></div>` +
      `<progress max="1" value="0"></progress><ul class="warnings"></ul><button type="button" class="cancel">Cancel</button>`;
    const show = () => { if (job.group != null) { state.current = job.group; refreshView(); } };
    li.addEventListener("click", show);
    li.addEventListener("keydown", (e) => { if (e.target === li && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); show(); } });
    li.querySelector(".cancel").addEventListener("click", async (e) => {
      e.stopPropagation();
      try { await api(`/api/jobs/${job.id}`, { method: "DELETE" }); job.status = "cancelled"; renderJob(job); } catch (err) { showError(err.message); }
    });
    $("jobs").prepend(li);
  }
  li.querySelector(".name").textContent = job.model;
  li.querySelector(".file").textContent = job.name;
  const st = li.querySelector(".state");
  st.textContent = job.status === "failed" ? `failed: ${job.error}` : `${job.status}${eta(job)}${job.status === "done" ? `, ${job.seconds} s` : ""}`;
  st.classList.toggle("failed", job.status === "failed");
  li.querySelector("progress").value = job.status === "done" ? 1 : job.progress || 0;
  const warned = li.querySelector(".warnings");
  warned.replaceChildren(...(job.warnings || []).map((w) => Object.assign(document.createElement("li"), { textContent: `warning: ${w}` })));
  li.querySelector(".cancel").hidden = !["queued", "running"].includes(job.status);
  // the results asked for, not the bicubic references of the slider
  const done = [...state.jobs.values()].filter((j) => j.status === "done" && !j.reference).map((j) => j.id);
  $("zip").hidden = done.length < 2;
  $("zip").href = `/api/results.zip?ids=${done.join(",")}`;
}

// In one column (a phone, a narrow window) the jobs and the result lie below all the settings:
// a click that starts work brings them up, where a wide layout already shows them.
function showQueue() {
  if (matchMedia("(max-width: 640px)").matches) $("queue").scrollIntoView({ block: "start" });
}

function addGroup(group) {
  state.groups.push(group);
  const index = state.groups.length - 1;
  for (const id of group.kind === "slider" ? [group.before, group.after] : group.ids) state.jobs.get(id).group = index;
  return index;
}

$("go").addEventListener("click", async () => {
  showError("");
  if (!state.files.length) return showError("choose an image first");
  const m = currentModel();
  const refused = [];
  let shown = false;
  for (const file of state.files) { // each image: the model's result against bicubic; a refused one, the next
    try {
      const after = await submit(m.name, userOptions(m), file);
      const before = m.name === "bicubic" ? after : await submit("bicubic", outputOptions(), file, true);
      const index = addGroup({ kind: "slider", before, after });
      if (!shown) { state.current = index; refreshView(); showQueue(); shown = true; } // this click's first image
    } catch (err) { refused.push(state.files.length > 1 ? `${file.name}: ${err.message}` : err.message); }
  }
  showError(refused.join("; "));
});

$("compare").addEventListener("click", async () => {
  showError("");
  if (!state.files.length) return showError("choose an image first");
  if (state.files.length > 1) return showError("compare mode takes one image: choose one");
  const names = [...document.querySelectorAll("#compare-models input:checked")].map((i) => i.value);
  if (names.length < 2 || names.length > 4) return showError("pick 2 to 4 models to compare");
  try {
    const file = $("crop").value.trim() ? await cropped(state.files[0], $("crop").value) : state.files[0];
    const ids = [];
    for (const n of names) {
      const m = state.models.find((x) => x.name === n);
      const f = Number($("scale").value);
      if (f !== 1 && (Number.isInteger(f) ? !m.scales.includes(f) : Math.max(...m.scales) < f)) throw new Error(`${n} does not upscale x${f}`);
      ids.push(await submit(n, userOptions(m), file));
    }
    state.current = addGroup({ kind: "grid", ids });
    refreshView();
    showQueue();
  } catch (err) { showError(err.message); }
});

$("as-slider").addEventListener("click", () => {
  const g = state.groups[state.current];
  state.current = addGroup({ kind: "slider", before: g.ids[0], after: g.ids[1] });
  refreshView();
});

// A crop of the input as a PNG file, so that compare mode can run on a region of a large image.
async function cropped(file, text) {
  const v = text.split(",").map((t) => Number(t.trim()));
  if (v.length !== 4 || v.some((n) => !Number.isInteger(n) || n < 0) || v[2] < 1 || v[3] < 1) {
    throw new Error("crop expects x,y,w,h as whole numbers");
  }
  const bmp = await createImageBitmap(file);
  const [x, y, w, h] = v;
  if (x + w > bmp.width || y + h > bmp.height) throw new Error(`crop ${text} lies outside the ${bmp.width}x${bmp.height} input`);
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").drawImage(bmp, x, y, w, h, 0, 0, w, h);
  const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
  return new File([blob], `${(file.name || "image").replace(/\.[^.]*$/, "")}_crop.png`, { type: "image/png" });
}

// ---- viewing ------------------------------------------------------------------------------------
const resultUrl = (id) => `/api/jobs/${id}/result`;
const previewUrl = (id) => `/api/jobs/${id}/preview`; // the result, or a PNG of one a browser cannot show

function refreshView() {
  const g = state.groups[state.current];
  if (!g) return;
  for (const li of document.querySelectorAll("#jobs > li")) li.classList.toggle("current", state.jobs.get(li.dataset.id)?.group === state.current);
  const ready = (id) => state.jobs.get(id)?.status === "done";
  $("as-slider").hidden = !(g.kind === "grid" && g.ids.length === 2 && g.ids.every(ready));
  if (g.kind === "slider") {
    $("grid").hidden = true;
    if (!ready(g.before) || !ready(g.after)) return;
    const after = state.jobs.get(g.after), before = state.jobs.get(g.before);
    $("view-title").textContent = `${after.name}: ${after.model} x${after.scale}, ${after.seconds} s${sizes(after)}`;
    $("after-tag").textContent = after.model;
    $("before-tag").textContent = before.model;
    $("slider").hidden = false;
    // fitted as soon as either shows (both have the result's size), not shown 1:1 until the second loads
    loadInto($("before"), previewUrl(g.before), () => fit([$("slider")]));
    loadInto($("after"), previewUrl(g.after), () => fit([$("slider")]));
    $("download").hidden = false;
    $("download").href = resultUrl(g.after);
    $("download").setAttribute("download", after.filename || "result.png");
  } else {
    $("slider").hidden = true;
    $("download").hidden = true;
    const grid = $("grid");
    if (!g.ids.every(ready)) return;
    grid.hidden = false;
    grid.innerHTML = "";
    $("view-title").textContent = "Compare";
    for (const id of g.ids) {
      const j = state.jobs.get(id);
      const stage = document.createElement("div");
      stage.className = "stage";
      stage.tabIndex = 0;
      stage.innerHTML = `<img alt="${j.model} result" draggable="false"><span class="tag left">${j.model}: ${j.seconds} s</span>`;
      grid.append(stage);
      attachPanZoom(stage);
      loadInto(stage.querySelector("img"), previewUrl(id), () => fit([...grid.querySelectorAll(".stage")]));
    }
  }
}

// "· 130 x 100 → 520 x 400, 85 KB": what the job made of the upload, and the download's size.
function sizes(job) {
  if (!job.input_size || !job.result_size) return "";
  const px = (s) => `${s[0]} x ${s[1]}`;
  const b = job.result_bytes;
  const file = b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MB` : `${Math.max(1, Math.round(b / 1024))} KB`;
  return ` · ${px(job.input_size)} → ${px(job.result_size)}, ${file}`;
}

function loadInto(img, url, then) {
  img.onload = () => then && then();
  img.src = url;
}

function stages() { return [...document.querySelectorAll(".stage:not([hidden])")].filter((s) => !s.closest("[hidden]")); }

function fit(list) {
  const s = list[0], img = [...s.querySelectorAll("img")].find((i) => i.naturalWidth);
  if (!img) return;
  // One column (a phone): the slider as tall as the image at its width, up to 70% of the screen,
  // not a fixed 70% with bars above and below a landscape photo.
  const narrow = s.id === "slider" && matchMedia("(max-width: 640px)").matches;
  s.style.height = narrow ? `${Math.min(0.7 * innerHeight, (s.clientWidth * img.naturalHeight) / img.naturalWidth)}px` : "";
  const z = Math.min(s.clientWidth / img.naturalWidth, s.clientHeight / img.naturalHeight);
  const x = (s.clientWidth - img.naturalWidth * z) / 2, y = (s.clientHeight - img.naturalHeight * z) / 2;
  state.view = { z, x, y, fitted: true };
  applyView();
}

// A phone turned or a window resized: the view fits again, unless the user has zoomed or panned it.
addEventListener("resize", () => {
  const shown = stages();
  if (state.view?.fitted && shown.length) fit(shown);
});

function applyView() {
  const { z, x, y } = state.view;
  for (const s of stages()) {
    s.classList.toggle("pixelated", z >= 1);
    for (const img of s.querySelectorAll("img")) img.style.transform = `translate(${x}px, ${y}px) scale(${z})`;
  }
}

function zoomAt(factor, cx, cy) {
  const v = state.view, z = Math.min(64, Math.max(0.05, v.z * factor));
  v.x = cx - (cx - v.x) * (z / v.z);
  v.y = cy - (cy - v.y) * (z / v.z);
  v.z = z;
  v.fitted = false;
  applyView();
}

function attachPanZoom(stage) {
  stage.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = stage.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  stage.addEventListener("pointerdown", (e) => {
    if (e.target.id === "divider") return;
    drag = { x: e.clientX, y: e.clientY };
    stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.view.x += e.clientX - drag.x;
    state.view.y += e.clientY - drag.y;
    state.view.fitted = false;
    drag = { x: e.clientX, y: e.clientY };
    applyView();
  });
  stage.addEventListener("pointerup", () => { drag = null; });
  stage.addEventListener("keydown", (e) => {
    const step = { ArrowLeft: [20, 0], ArrowRight: [-20, 0], ArrowUp: [0, 20], ArrowDown: [0, -20] }[e.key];
    if (e.target !== stage) return;
    if (step) { state.view.x += step[0]; state.view.y += step[1]; state.view.fitted = false; applyView(); e.preventDefault(); }
    if (e.key === "+" || e.key === "=") zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2);
    if (e.key === "-") zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2);
  });
}

// Before/after divider: pointer and keyboard.
function setDivider(pct) {
  pct = Math.min(100, Math.max(0, pct));
  $("divider").style.left = `${pct}%`;
  $("divider").setAttribute("aria-valuenow", String(Math.round(pct)));
  $("after-clip").style.clipPath = `inset(0 0 0 ${pct}%)`;
}
(function sliderSetup() {
  const slider = $("slider"), divider = $("divider");
  attachPanZoom(slider);
  let moving = false;
  divider.addEventListener("pointerdown", (e) => { moving = true; divider.setPointerCapture(e.pointerId); e.stopPropagation(); });
  divider.addEventListener("pointermove", (e) => {
    if (!moving) return;
    const r = slider.getBoundingClientRect();
    setDivider(((e.clientX - r.left) / r.width) * 100);
  });
  divider.addEventListener("pointerup", () => { moving = false; });
  divider.addEventListener("keydown", (e) => {
    const now = Number(divider.getAttribute("aria-valuenow"));
    if (e.key === "ArrowLeft") { setDivider(now - 5); e.preventDefault(); }
    if (e.key === "ArrowRight") { setDivider(now + 5); e.preventDefault(); }
  });
})();

onOutput();
loadModels().catch((e) => showError(`cannot load the model list: ${e.message}`));
