// The dashboard: one event stream for the lab's summary; the running and testbox lists are read
// again when the summary says something changed, never more often than every 5 seconds.
"use strict";
const API = "/scheduler/v1";
const PAGE = 50;
const REFRESH_MS = 5000;
const offsets = { running: 0, hosts: 0 };
const totals = { running: 0, hosts: 0 };
let lastListRefresh = 0;
let listTimer = null;

const $ = (sel) => document.querySelector(sel);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function age(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
// The token: typed into the page, kept in this tab's session storage only (never in a cookie or
// local storage), sent as a bearer token. Reads need it when the scheduler's reads are private;
// "why it waits" needs an admin's.
const TOKEN_KEY = "scheduler-token";
function token() {
  const typed = $("#token").value.trim();
  if (typed) sessionStorage.setItem(TOKEN_KEY, typed);
  return typed || sessionStorage.getItem(TOKEN_KEY) || "";
}
function authHeaders() {
  const t = token();
  return t ? { Authorization: "Bearer " + t } : {};
}
// a 401 on a read: the scheduler keeps its reads private; ask for a token
function askForToken(why) {
  const field = $("#token");
  field.classList.add("wanted");
  field.placeholder = "token needed to read";
  $("#auth-note").textContent = why || "This scheduler's reads need an account's token: paste it here.";
  $("#auth-note").classList.remove("hidden");
}
async function getJson(path) {
  const r = await fetch(API + path, { headers: authHeaders() });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) askForToken(body.error);
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

// Server-Sent Events read with fetch, so that the token goes in a header (EventSource sends none);
// on a drop it connects again after 2 s. Returns a handle whose close() ends it.
function openEvents(path, handlers, onState) {
  let stopped = false;
  let controller = null;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const r = await fetch(API + path, { headers: Object.assign({ Accept: "text/event-stream" }, authHeaders()),
          signal: controller.signal });
        if (r.status === 401) { askForToken(); onState && onState(false); await sleep(5000); continue; }
        if (!r.ok || !r.body) { onState && onState(false); await sleep(2000); continue; }
        onState && onState(true);
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = "message", data = "";
            for (const line of frame.split("\n")) {
              if (line.startsWith("event:")) name = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
            }
            if (data && handlers[name]) handlers[name](data);
            if (name === "close") { stopped = true; }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (!stopped) { onState && onState(false); await sleep(2000); }
    }
  }
  run();
  return { close() { stopped = true; if (controller) controller.abort(); } };
}
function sleep(ms) { return new Promise((res) => setTimeout(res, ms)); }

function showGroups(dimension, groups) {
  const body = $("#pending-" + dimension + " tbody");
  body.replaceChildren();
  const entries = Object.entries(groups || {});
  const max = entries.reduce((m, [, n]) => Math.max(m, n), 1);
  if (entries.length === 0) {
    body.append(el("tr")).lastChild.append(el("td", "nothing queued", "muted"));
  }
  for (const [name, n] of entries) {
    const tr = el("tr");
    tr.dataset.group = name;
    const label = el("td", name);
    const bar = el("div", null, "bar");
    bar.style.width = Math.max(2, Math.round(100 * n / max)) + "%";
    label.append(bar);
    tr.append(label, el("td", n, "count"));
    body.append(tr);
  }
}

function showSummary(s) {
  $("#pending-total").textContent = s.pending.total;
  $("#running-total").textContent = s.running.total;
  $("#boxes-online").textContent = s.testboxes.online + " / " + s.testboxes.total;
  $("#submitted").textContent = s.counts.submitted;
  $("#dispatched").textContent = s.counts.dispatched;
  $("#wait-p50").textContent = s.counts.wait_seconds && s.counts.wait_seconds.p50 !== undefined ? s.counts.wait_seconds.p50 : "–";
  for (const d of ["tbox_group", "arch", "my_account", "queue"]) showGroups(d, s.pending["by_" + d]);
  $("#running-stages").textContent = Object.entries(s.running.by_stage).map(([k, v]) => k + " " + v).join(" · ");
  totals.running = s.running.total;
  totals.hosts = s.testboxes.total;
  scheduleLists();
}

// at most one refresh of the lists per REFRESH_MS, however often the summary changes
function scheduleLists() {
  if (listTimer) return;
  const wait = Math.max(0, lastListRefresh + REFRESH_MS - Date.now());
  listTimer = setTimeout(() => { listTimer = null; lastListRefresh = Date.now(); refreshLists(); }, wait);
}

async function refreshLists() {
  try {
    const run = await getJson("/dashboard/jobs/running?offset=" + offsets.running + "&limit=" + PAGE);
    const body = $("#running tbody");
    body.replaceChildren();
    for (const j of run.jobs) {
      const tr = el("tr");
      const link = el("a", j.job_id);
      link.onclick = () => openJob(j.job_id);
      const id = el("td"); id.append(link);
      tr.append(id, el("td", j.job_stage), el("td", j.testbox), el("td", j.tbox_group), el("td", j.tenant),
        el("td", j.suite || ""), el("td", age(j.stage_since)));
      body.append(tr);
    }
    pagerText("running", run.total);
    const hosts = await getJson("/dashboard/hosts?offset=" + offsets.hosts + "&limit=" + PAGE);
    const hb = $("#hosts tbody");
    hb.replaceChildren();
    for (const h of hosts.hosts) {
      const tr = el("tr");
      tr.append(el("td", h.hostname), el("td", h.online ? "online" : "offline", h.online ? "online" : "offline"),
        el("td", h.last_contact ? age(h.last_contact) + " ago" : "never"),
        el("td", h.free_memory_mb !== undefined ? h.free_memory_mb + " MB" : ""));
      const cur = el("td");
      if (h.current_job) { const a = el("a", h.current_job); a.onclick = () => openJob(h.current_job); cur.append(a); }
      tr.append(cur, el("td", h.arch || ""), el("td", h.tbox_group || ""));
      hb.append(tr);
    }
    pagerText("hosts", hosts.total);
  } catch (e) {
    console.warn("lists:", e);
  }
}

function pagerText(list, total) {
  const from = total === 0 ? 0 : offsets[list] + 1;
  document.querySelector('.pager[data-list="' + list + '"] span').textContent =
    from + "–" + Math.min(total, offsets[list] + PAGE) + " of " + total;
}

document.querySelectorAll(".pager button").forEach((b) => {
  b.onclick = () => {
    const list = b.parentElement.dataset.list;
    const next = offsets[list] + Number(b.dataset.step) * PAGE;
    if (next < 0 || next >= Math.max(totals[list], 1)) return;
    offsets[list] = next;
    lastListRefresh = Date.now();
    refreshLists();
  };
});

// one job: its fields, its stage history, why it waits, and its changes live
let jobStream = null;
async function openJob(id) {
  id = String(id).trim();
  if (!/^\d+$/.test(id)) return;
  $("#search").value = id;
  const box = $("#job");
  box.classList.remove("hidden");
  box.replaceChildren(el("p", "loading job " + id + " …", "muted"));
  if (jobStream) { jobStream.close(); jobStream = null; }
  let job;
  try {
    job = await getJson("/jobs/" + encodeURIComponent(id));
  } catch (e) {
    box.replaceChildren(el("p", "job " + id + ": " + e.message, "offline"));
    return;
  }
  renderJob(job);
  jobStream = openEvents("/jobs/" + encodeURIComponent(id) + "/events", {
    // a field that is gone (a requeue drops the hand-out's) comes as null
    job: (data) => {
      for (const [k, v] of Object.entries(JSON.parse(data))) { if (v === null) delete job[k]; else job[k] = v; }
      renderJob(job);
    },
    close: () => { jobStream = null; },
  });
}

function renderJob(job) {
  const box = $("#job");
  box.replaceChildren();
  box.append(el("h3", "job " + job.id + " — " + (job.suite || "")));
  const dl = el("dl");
  const row = (k, v) => { if (v !== undefined && v !== null && v !== "") dl.append(el("dt", k), el("dd", v)); };
  row("stage", job.job_stage); row("health", job.job_health); row("data", job.job_data_readiness);
  row("tenant", job.my_account); row("machine group", job.tbox_group); row("arch", job.arch);
  row("testbox", job.host_machine); row("result root", job.result_root);
  box.append(dl);
  const history = Object.entries(job).filter(([k, v]) => k.endsWith("_time") && typeof v === "string" && !isNaN(Date.parse(v)))
    .sort((a, b) => Date.parse(a[1]) - Date.parse(b[1]));
  if (history.length) {
    box.append(el("h3", "stage history"));
    const h = el("dl");
    for (const [k, v] of history) h.append(el("dt", k.replace(/_time$/, "")), el("dd", new Date(v).toLocaleString()));
    box.append(h);
  }
  if (job.job_stage === "submit") {
    const explain = el("div");
    box.append(el("h3", "why it waits"), explain);
    explainJob(job.id, explain);
  }
}

async function explainJob(id, into) {
  try {
    const e = await getJson("/manage/explain/" + id);
    const dl = el("dl");
    const row = (k, v) => dl.append(el("dt", k), el("dd", v));
    row("needs tags", (e.requirements.tags || []).join(", ") || "none");
    row("target machines", (e.requirements.target_machines || []).join(", ") || "any");
    row("memory", e.requirements.memory_mb + " MB");
    row("testboxes known", e.boxes_known);
    row("fit by tags", e.boxes_fit_tags);
    row("fit by memory", e.boxes_fit_memory);
    row("place in tenant queue", e.place_in_tenant_queue + " of " + e.tenant_queued + " (" + e.tenant + ")");
    for (const [why, n] of Object.entries(e.rejections || {})) row("rejected: " + why, n);
    into.replaceChildren(dl);
  } catch (err) {
    into.replaceChildren(el("p", "explain: " + err.message, "muted"));
  }
}

$("#search-form").onsubmit = (ev) => { ev.preventDefault(); openJob($("#search").value); };

let summaryStream = null;
function connect() {
  const live = $("#live");
  if (summaryStream) summaryStream.close();
  summaryStream = openEvents("/dashboard/events", { summary: (data) => showSummary(JSON.parse(data)) }, (up) => {
    // the stream connects again by itself; the badge says so meanwhile
    live.textContent = up ? "live" : "reconnecting";
    live.className = up ? "live on" : "live off";
    if (up) { $("#auth-note").classList.add("hidden"); $("#token").classList.remove("wanted"); }
  });
}

// a token typed in takes effect at once: the summary stream connects again with it
$("#token").onchange = () => { token(); connect(); };
connect();
if (/^#\d+$/.test(location.hash)) openJob(location.hash.slice(1));

// The header chip of a cluster: its members up, the node the matcher runs on and its epoch
// (manage/cluster, an admin's read; without one, or on a standalone scheduler, no chip).
async function refreshCluster() {
  const chip = $("#cluster");
  try {
    const r = await fetch(API + "/manage/cluster", { headers: authHeaders() });
    if (!r.ok) { chip.classList.add("hidden"); return; }
    const c = await r.json();
    if (!c.members || c.members.length === 0) { chip.classList.add("hidden"); return; }
    const up = c.members.filter((m) => m.status === "Up" && m.reachable !== false).length;
    chip.textContent = "cluster " + up + "/" + c.members.length + " up · matcher on " + (c.singleton || "none")
      + (c.epoch !== null && c.epoch !== undefined ? " · epoch " + c.epoch : "");
    chip.classList.toggle("degraded", up < c.members.length || !c.singleton);
    chip.classList.remove("hidden");
  } catch (e) {
    chip.classList.add("hidden");
  }
}
refreshCluster();
setInterval(refreshCluster, REFRESH_MS);
