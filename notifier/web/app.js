/* The console's script: inlined into every page (no external asset). It reads /api/ and builds
 * the page with textContent only (never innerHTML): whatever the database or the wire holds is
 * shown as text. Actions (with --admin-token-file) send the token and the page's CSRF token. */
"use strict";

const PAGE = document.body.dataset.page;
const ADMIN = document.body.dataset.admin === "1";
const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
const POLL_MS = 2000;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function link(href, text) {
  const a = el("a", text);
  a.href = href;
  return a;
}

function time(iso) {
  return iso || "";
}

function duration(ms) {
  if (ms === null || ms === undefined) return "";
  const s = Math.round(ms / 1000);
  return s < 120 ? s + " s" : Math.round(s / 60) + " min";
}

function table(id, headers, rows) {
  const t = el("table");
  t.id = id;
  const hr = el("tr");
  headers.forEach((h) => hr.appendChild(el("th", h)));
  t.appendChild(hr);
  rows.forEach((cells) => {
    const tr = el("tr");
    cells.forEach((c) => {
      const td = el("td");
      if (c instanceof Node) td.appendChild(c);
      else {
        td.textContent = c === null || c === undefined ? "" : String(c);
        if (typeof c === "number") td.className = "num";
      }
      tr.appendChild(td);
    });
    t.appendChild(tr);
  });
  return t;
}

function percent(job) {
  if (job.state === "finished") return 100;
  return job.tasksTotal ? Math.floor((job.tasksDone * 100) / job.tasksTotal) : 0;
}

function bar(job) {
  const span = el("span");
  const p = el("progress");
  p.max = 100;
  p.value = percent(job);
  p.className = "bar";
  span.appendChild(p);
  span.appendChild(el("span", " " + percent(job) + " % (" + job.tasksDone + "/" + job.tasksTotal +
                              " tasks)", "pct"));
  return span;
}

function stateCell(job) {
  return el("span", job.state + (job.stuck ? " (stuck)" : ""), "state state-" + job.state);
}

function records(job) {
  return job.records + " " + (job.recordsUnit || "");
}

function sectionError(root, error) {
  if (error) root.appendChild(el("p", error, "error"));
}

async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function act(path) {
  const token = sessionStorage.getItem("jt-admin-token") || "";
  const r = await fetch(path, {
    method: "POST",
    headers: { "X-Admin-Token": token, "X-CSRF-Token": CSRF },
  });
  const body = await r.json().catch(() => ({}));
  const out = document.getElementById("action-result");
  if (out) out.textContent = r.ok ? "started: " + body.kind + " " + body.target
                                  : "refused (HTTP " + r.status + "): " + (body.error || "");
  pollAction();
}

async function pollAction() {
  const out = document.getElementById("action-state");
  if (!out) return;
  try {
    const a = await api("/api/action");
    if (!a.started) { out.textContent = "no action yet"; return; }
    out.textContent = a.kind + " " + a.target + ": " +
      (a.running ? "running" : "ended, exit " + a.exit_code);
    document.getElementById("action-output").textContent = a.output || "";
    if (a.running) setTimeout(pollAction, 1000);
  } catch (e) { out.textContent = String(e); }
}

function adminBar(root) {
  if (!ADMIN) return;
  const box = el("div");
  box.id = "admin";
  box.appendChild(el("span", "Admin token: "));
  const input = el("input");
  input.type = "password";
  input.id = "admin-token";
  input.value = sessionStorage.getItem("jt-admin-token") || "";
  input.addEventListener("input", () => sessionStorage.setItem("jt-admin-token", input.value));
  box.appendChild(input);
  box.appendChild(el("div", "", "muted")).id = "action-result";
  box.appendChild(el("div", "", "muted")).id = "action-state";
  box.appendChild(el("pre")).id = "action-output";
  root.appendChild(box);
  pollAction();
}

function button(text, cls, onClick) {
  const b = el("button", text, cls);
  b.addEventListener("click", onClick);
  return b;
}

function failure(job) {
  const f = job.lastFailure;
  const box = el("div", "", "failure");
  if (!f) return box;
  /* A finished job failed before and was re-opened (replay --dlq): its failure is history. */
  if (job.state === "finished") box.appendChild(el("span", "recovered from: ", "muted"));
  box.appendChild(el("span", f.reason, job.state === "finished" ? "reason muted" : "reason error"));
  if (f.task) box.appendChild(el("span", " (task " + f.task + ")", "muted"));
  if (f.at) box.appendChild(el("span", " at " + time(f.at), "muted"));
  if (job.failures > 1) box.appendChild(el("span", ", " + job.failures + " failures", "muted"));
  return box;
}

function jobRow(j) {
  const row = [link("/job?id=" + encodeURIComponent(j.id), j.id), j.kind + (j.testMode ? " (test)" : ""),
               stateCell(j), bar(j), records(j), time(j.createdAt), duration(j.durationMs),
               j.deadLetters, failure(j)];
  return row;
}

function renderJobs(root, data) {
  sectionError(root, data.jobsError);
  const jobs = data.jobs || [];
  const t = table("jobs", ["Job", "Kind", "State", "Progress", "Records", "Started", "Duration",
                           "Dead letters", "Last failure"], jobs.map(jobRow));
  Array.from(t.rows).slice(1).forEach((tr, i) => { tr.dataset.job = jobs[i].id; });
  root.appendChild(t);
  if (!jobs.length) root.appendChild(el("p", "No job in the ledger.", "muted"));
  if (data.schedules && data.schedules.length) {
    root.appendChild(el("h2", "Schedules"));
    root.appendChild(table("schedules", ["Job", "Cron", "Next fires"],
      data.schedules.map((s) => [s.name, s.cron, (s.next || []).join(", ")])));
  }
}

function claim(c) {
  return c ? c.by + " until " + time(c.until) : "";
}

function mongoDate(d) {
  return d && d.$date ? String(d.$date) : "";
}

function renderJob(root, data) {
  const view = data.view || {};
  const j = (view.jobs || [])[0];
  sectionError(root, view.jobsError);
  if (!j) { root.appendChild(el("p", "No such job in the ledger.", "error")); return; }
  const t = table("summary", ["Kind", "State", "Progress", "Records", "Started", "Ended",
                              "Duration", "Send claim", "Finalizing", "Reopens"],
    [[j.kind, stateCell(j), bar(j), records(j), time(j.createdAt), time(j.endedAt),
      duration(j.durationMs), claim(j.claim), claim(j.finalize), j.reopens]]);
  t.rows[1].dataset.job = j.id;
  root.appendChild(t);
  root.appendChild(el("h2", "Failures"));
  root.appendChild(j.lastFailure ? failure(j) : el("p", "none", "muted"));
  root.appendChild(el("h2", "Tasks"));
  root.appendChild(table("tasks", ["Task", "Result"], (data.tasks || []).map((x) =>
    [x.task, x.result === null ? el("span", "pending", "muted")
                               : el("pre", JSON.stringify(x.result))])));
  root.appendChild(el("h2", "Discord messages posted"));
  root.appendChild(table("posts", ["Message", "State", "Discord message id", "HTTP", "Updated"],
    (data.posts || []).map((p) => [p.what, p.state, p.messageId, p.httpStatus,
                                   mongoDate(p.updatedAt)])));
  root.appendChild(el("h2", "Dead letters"));
  const dead = (view.deadLetters || {}).messages || [];
  sectionError(root, (view.deadLetters || {}).error);
  if (ADMIN && dead.some((m) => !m.handled))
    root.appendChild(button("Replay this job's dead letters", "replay", () =>
      act("/api/action/replay?job=" + encodeURIComponent(j.id))));
  root.appendChild(dlqTable(dead));
}

function headersText(h) {
  return Object.keys(h || {}).map((k) => k + ": " + h[k]).join("\n");
}

function dlqTable(messages) {
  const t = table("dead-letters", ["Partition/offset", "Job", "Task", "Error", "Attempts",
                                   "Original topic/partition/offset", "Headers", "State", ""],
    messages.map((m) => {
      const o = m.original || {};
      return [m.partition + "/" + m.offset, m.job, m.key, el("span", m.error, "error"),
        m.attempts, o.topic + " / " + o.partition + " / " + o.offset,
        el("pre", headersText(m.headers) + "\n(" + m.valueBytes + " bytes, " + m.kind + " task)"),
        m.handled ? "handled" : "waiting",
        ADMIN && !m.handled ? button("Discard", "discard", () =>
          act("/api/action/discard?partition=" + m.partition + "&offset=" + m.offset)) : ""];
    }));
  return t;
}

function renderWorkers(root, data) {
  const g = data.group || {};
  const members = g.members || [];
  sectionError(root, g.error);
  root.appendChild(el("p", "Group " + g.name + ": " + g.state + ", " + members.length +
                          " member(s); total lag " + data.totalLag, "summary"));
  root.appendChild(table("members", ["Member", "Client", "Host", "Partitions"],
    members.map((m) => [m.memberId, m.clientId, m.host, m.partitions])));
  root.appendChild(el("h2", "Lag per partition"));
  sectionError(root, data.lagError);
  root.appendChild(table("lag", ["Topic", "Partition", "Log start", "Log end", "Committed", "Lag"],
    (data.lag || []).map((p) => [p.topic, p.partition, p.low, p.high,
                                 p.committed === null ? "none" : p.committed, p.lag])));
}

function renderDlq(root, data) {
  const d = data.deadLetters || {};
  const messages = d.messages || [];
  sectionError(root, d.error);
  root.appendChild(el("p", "Topic " + d.topic + ": " + d.total + " message(s)" +
                          (d.truncated ? " (list truncated)" : ""), "summary"));
  const jobs = [...new Set(messages.filter((m) => !m.handled).map((m) => m.job))];
  if (ADMIN) jobs.forEach((id) => root.appendChild(button("Replay " + id, "replay", () =>
    act("/api/action/replay?job=" + encodeURIComponent(id)))));
  root.appendChild(dlqTable(messages));
  if (!messages.length) root.appendChild(el("p", "No dead letter.", "muted"));
}

const VIEWS = {
  jobs: ["/api/jobs", renderJobs],
  job: ["/api/job?id=" + encodeURIComponent(new URLSearchParams(location.search).get("id") || ""),
        renderJob],
  workers: ["/api/workers", renderWorkers],
  dlq: ["/api/dlq", renderDlq],
};

async function refresh() {
  const [path, render] = VIEWS[PAGE];
  const root = document.getElementById("content");
  try {
    const data = await api(path);
    const fresh = el("div");
    fresh.id = "content";
    render(fresh, data);
    root.replaceWith(fresh);
    document.getElementById("updated").textContent = "updated " + new Date().toISOString();
  } catch (e) {
    document.getElementById("updated").textContent = "update failed: " + e;
  }
}

adminBar(document.getElementById("admin-slot"));
refresh();
setInterval(refresh, POLL_MS);
