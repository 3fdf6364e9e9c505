// Blur the Baby reviewer page. Talks to btb review serve only, with the session token in a header.
"use strict";

const TOKEN = document.querySelector('meta[name="btb-token"]').content;
const $ = (sel) => document.querySelector(sel);
const state = { video: null, detail: null, item: null, frame: 0, draw: null, flag: null };

async function api(path, body) {
  const opts = { headers: { "X-BTB-Token": TOKEN } };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

function media(path) {
  return `${path}?token=${encodeURIComponent(TOKEN)}`;
}

function say(text, error) {
  const m = $("#message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

async function loadVideos() {
  const videos = await api("/api/videos");
  const ul = $("#videos");
  ul.replaceChildren();
  for (const v of videos) {
    const li = el("li", { "data-video": v.video_id, class: v.video_id === state.video ? "selected" : "" },
      el("span", { class: `status ${v.status}` }, v.status.replace("_", " ")), " ", v.video_id,
      el("br"), el("small", {}, `${v.open_items} open of ${v.items} item(s)`));
    li.addEventListener("click", () => openVideo(v.video_id));
    ul.append(li);
  }
  if (!videos.length) ul.append(el("li", {}, "No videos under this results folder."));
}

async function openVideo(id) {
  const same = state.video === id;
  state.video = id;
  const d = await api(`/api/videos/${encodeURIComponent(id)}`);
  state.detail = d;
  $("#detail").hidden = false;
  $("#who").textContent = `reviewer: ${d.reviewer}${d.can_approve ? "" : " (no key: approvals disabled)"}`;
  $("#title").textContent = id;
  $("#state").textContent = `${d.status.replace("_", " ")}: ${d.why}`;
  $("#state").className = `status ${d.status}`;
  const player = $("#player"), still = $("#still");
  $("#stage").hidden = d.kind === "features";
  if (d.kind === "features") {  // outputs.video false: tables only, nothing to look at
    player.hidden = true; still.hidden = true;
  } else if (d.kind === "video") {
    if (!player.src.includes(`/media/${encodeURIComponent(id)}`)) player.src = media(`/media/${encodeURIComponent(id)}`);
    player.hidden = false; still.hidden = true;
  } else {
    still.src = media(`/media/${encodeURIComponent(id)}`);
    player.hidden = true; still.hidden = false;
  }
  $("#frame-no").max = d.n_frames - 1;
  renderItems();
  renderLog();
  // a refresh after a decision keeps the reviewer's place; a newly opened video starts at its first open item
  if (!same || state.item === null) {
    const first = d.items.find((i) => i.status === "open") || d.items[0];
    if (first) selectItem(first, true);
    else { state.item = null; state.flag = null; state.draw = null; showFrame(0); }
  }
  for (const li of document.querySelectorAll("#videos li")) {
    li.classList.toggle("selected", li.dataset.video === id);
  }
}

function approvedItems() {
  const done = new Set();
  for (const e of state.detail.decisions) {
    if (e.decision === "approve_item" && e.current_file) done.add(e.item);  // counted if the key is trusted
  }
  return done;
}

function renderItems() {
  const d = state.detail, body = $("#items tbody"), done = approvedItems();
  body.replaceChildren();
  const items = [...d.items].sort((a, b) => (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) || a.item - b.item);
  for (const it of items) {
    const status = it.status === "open" ? (done.has(it.item) ? "approved" : "open") : `dismissed (${it.reason})`;
    const tr = el("tr", { "data-item": it.item, class: it.status === "open" ? (done.has(it.item) ? "approved" : "") : "dismissed" },
      el("td", {}, String(it.item)), el("td", {}, status), el("td", {}, `${it.start}–${it.end}`),
      el("td", {}, `${it.first_frame}–${it.last_frame} (${it.frames})`), el("td", {}, it.detectors),
      el("td", {}, it.max_score.toFixed(2)));
    const actions = el("td", {});
    const play = el("button", { type: "button", class: "play" }, "Play");
    play.addEventListener("click", () => playAt(it));
    const show = el("button", { type: "button", class: "show" }, "Frame");
    show.addEventListener("click", () => selectItem(it, false));
    const region = el("button", { type: "button", class: "region" }, "Blur region…");
    region.addEventListener("click", () => selectItem(it, true));
    actions.append(play, show, region);
    if (it.status === "open" && !done.has(it.item)) {
      const ok = el("button", { type: "button", class: "approve", disabled: !d.can_approve }, "Approve item");
      ok.addEventListener("click", () => decide("approve_item", { item: it.item }));
      actions.append(ok);
    }
    tr.append(actions);
    body.append(tr);
  }
  if (!items.length) body.append(el("tr", {}, el("td", { colSpan: 7 }, "No review items.")));
}

function renderLog() {
  const d = state.detail;
  $("#manual").replaceChildren(...(d.manual_regions.length ? d.manual_regions.map((r) => el("li", { "data-region": r.id },
    `#${r.id}: frames ${r.first_frame}–${r.last_frame}, box ${r.x},${r.y} ${r.w}×${r.h}, by ${r.reviewer}: ${r.reason}`))
    : [el("li", {}, "none")]));
  $("#log").replaceChildren(...(d.decisions.length ? d.decisions.map((e) => el("li", { "data-decision": e.decision },
    `${e.time_utc} ${e.reviewer}: ${e.decision}${e.item != null ? ` item ${e.item}` : ""} (${e.reason})` +
    `${e.signed ? ", signed" : ", unsigned"}${e.current_file ? "" : ", on an earlier version of the file"}`))
    : [el("li", {}, "no decisions yet")]));
}

function playAt(it) {
  const p = $("#player");
  if (state.detail.kind !== "video") return;
  const go = () => { p.currentTime = it.start_s; p.play().catch(() => {}); };
  if (p.readyState >= 1) go();
  else p.addEventListener("loadedmetadata", go, { once: true });
}

function selectItem(it, forRegion) {
  const d = state.detail;
  state.item = it.item;
  state.flag = it.box;
  $("#region-item").textContent = String(it.item);
  if (forRegion) {
    const pad = Math.round(d.fps / 2 || 0);
    $("#region-first").value = Math.max(0, it.first_frame - pad);
    $("#region-last").value = Math.min(d.n_frames - 1, it.last_frame + pad);
    setDraw(it.offer);
  }
  showFrame(it.best_frame);
}

function setDraw(box) {
  state.draw = box;
  [$("#region-x").value, $("#region-y").value, $("#region-w").value, $("#region-h").value] = box.map(Math.round);
  placeBoxes();
}

function showFrame(n) {
  const d = state.detail;
  if (d.kind === "features") return;
  n = Math.max(0, Math.min(d.n_frames - 1, n | 0));
  state.frame = n;
  $("#frame-no").value = n;
  $("#frame-time").textContent = d.kind === "video" ? `${(d.times[n] || 0).toFixed(2)} s` : "";
  const img = $("#frame");
  img.onload = placeBoxes;
  img.src = media(`/frame/${encodeURIComponent(state.video)}/${n}.jpg`);
}

function scale() {
  const img = $("#frame");
  return img.naturalWidth ? img.clientWidth / img.naturalWidth : 1;
}

function place(div, box) {
  if (!box) { div.hidden = true; return; }
  const s = scale();
  div.hidden = false;
  div.style.left = `${box[0] * s}px`;
  div.style.top = `${box[1] * s}px`;
  div.style.width = `${box[2] * s}px`;
  div.style.height = `${box[3] * s}px`;
}

function placeBoxes() {
  place($("#flagbox"), state.flag);
  place($("#drawbox"), state.draw);
}

function stagePoint(ev) {
  const r = $("#frame").getBoundingClientRect(), s = scale();
  return [Math.max(0, (ev.clientX - r.left) / s), Math.max(0, (ev.clientY - r.top) / s)];
}

function setupDrawing() {
  const stage = $("#stage");
  let start = null;
  stage.addEventListener("mousedown", (ev) => { ev.preventDefault(); start = stagePoint(ev); });
  window.addEventListener("mousemove", (ev) => {
    if (!start) return;
    const p = stagePoint(ev), d = state.detail;
    const x0 = Math.min(start[0], p[0]), y0 = Math.min(start[1], p[1]);
    const x1 = Math.min(d.width, Math.max(start[0], p[0])), y1 = Math.min(d.height, Math.max(start[1], p[1]));
    setDraw([x0, y0, x1 - x0, y1 - y0]);
  });
  window.addEventListener("mouseup", () => { start = null; });
  for (const id of ["#region-x", "#region-y", "#region-w", "#region-h"]) {
    $(id).addEventListener("change", () => setDraw(["#region-x", "#region-y", "#region-w", "#region-h"].map((s) => +$(s).value)));
  }
  $("#frame-no").addEventListener("change", () => showFrame(+$("#frame-no").value));
  $("#frame-prev").addEventListener("click", () => showFrame(state.frame - 1));
  $("#frame-next").addEventListener("click", () => showFrame(state.frame + 1));
  window.addEventListener("resize", placeBoxes);
}

async function decide(action, extra) {
  const reason = $("#reason").value.trim();
  if (!reason) { say("Give a reason first: it is recorded with the decision.", true); return; }
  try {
    const r = await api(`/api/videos/${encodeURIComponent(state.video)}/${action}`, { reason, ...extra });
    say(`Recorded: ${r.recorded}${r.signed ? " (signed)" : ""}. Next: ${r.next}.`);
    await loadVideos();
    await openVideo(state.video);
  } catch (e) {
    say(e.message, true);
  }
}

function setupActions() {
  $("#add-region").addEventListener("click", () => {
    if (!state.draw) { say("Draw a box on the frame first.", true); return; }
    const [x, y, w, h] = ["#region-x", "#region-y", "#region-w", "#region-h"].map((s) => +$(s).value);
    decide("regions", { item: state.item, first_frame: +$("#region-first").value, last_frame: +$("#region-last").value, x, y, w, h });
  });
  $("#reject").addEventListener("click", () => decide("reject", {}));
}

setupDrawing();
setupActions();
loadVideos().then(() => {
  const first = document.querySelector("#videos li[data-video]");
  if (first) first.click();
}).catch((e) => say(e.message, true));
