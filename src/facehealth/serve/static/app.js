// The facehealth web page: plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";
const $ = (id) => document.getElementById(id);
const tokens = { get access() { return sessionStorage.getItem("access"); },
                 get refresh() { return sessionStorage.getItem("refresh"); } };

function say(message, error = false) { $("status").textContent = message; $("status").className = error ? "error" : ""; }

function saveTokens(t) { sessionStorage.setItem("access", t.access_token); sessionStorage.setItem("refresh", t.refresh_token); }

async function api(path, options = {}, retry = true) {
  const headers = Object.assign({}, options.headers || {});
  if (tokens.access) headers.Authorization = "Bearer " + tokens.access;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401 && retry && tokens.refresh) {
    // The access token lives minutes; trade the refresh token for a new pair once, then retry.
    const r = await fetch("/api/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
                                                 body: JSON.stringify({ refresh_token: tokens.refresh }) });
    if (r.ok) { saveTokens(await r.json()); return api(path, options, false); }
    sessionStorage.clear();
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function show(view) {
  for (const id of ["login-view", "people-view", "person-view"]) $(id).hidden = id !== view;
  $("logout").hidden = view === "login-view";
  const heading = $(view).querySelector("h2"); if (heading) { heading.tabIndex = -1; heading.focus(); }
}

async function route() {
  const join = location.hash.match(/^#\/join\/([A-Za-z0-9_-]+)$/);
  if (join) { $("reg-invitation").value = join[1]; return show("login-view"); }
  if (!tokens.access) return show("login-view");
  const match = location.hash.match(/^#\/people\/(\d+)$/);
  try { if (match) await showPerson(Number(match[1])); else await showPeople(); }
  catch (e) { say(e.message, true); if (!tokens.access) show("login-view"); }
}

async function showPeople() {
  const people = await (await api("/api/people")).json();
  const list = $("people-list"); list.replaceChildren();
  for (const p of people) {
    const li = document.createElement("li"), a = document.createElement("a");
    a.href = "#/people/" + p.id; a.textContent = `${p.label} (${p.visits} visits)`;
    li.append(a); list.append(li);
  }
  if (!people.length) list.append(Object.assign(document.createElement("li"), { textContent: "No people yet." }));
  show("people-view");
}

let currentPerson = null;

async function showPerson(id) {
  const person = await (await api("/api/people/" + id)).json();
  currentPerson = person;
  $("person-title").textContent = person.label;
  const visits = await (await api(`/api/people/${id}/analyses`)).json();
  renderHistory(visits);
  renderAlerts(visits.length ? await (await api(`/api/people/${id}/alerts`)).json() : null);
  $("report").textContent = visits.length ? await (await api(`/api/people/${id}/report.txt`)).text() : "No analyses yet.";
  show("person-view");
}

function series(visits) {
  // Every numeric output over time: regression values and binary probabilities, with intervals.
  const out = {};
  visits.forEach((v, i) => {
    const al = v.alerts || {};
    for (const [k, x] of Object.entries(v.values || {})) (out[k] ||= []).push({ i, x, iv: (v.intervals || {})[k], alert: al[k] === "alert" });
    for (const [k, x] of Object.entries(v.probabilities || {}))
      if (typeof x === "number") (out[k + " (probability)"] ||= []).push({ i, x, iv: (v.intervals || {})[k], alert: al[k] === "alert" });
  });
  return out;
}

function chart(name, points, n) {
  const ns = "http://www.w3.org/2000/svg", W = 400, H = 120, P = 30;
  const ys = points.flatMap((p) => (p.iv ? [p.x, p.iv[0], p.iv[1]] : [p.x]));
  let lo = Math.min(...ys), hi = Math.max(...ys); if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  if (name.endsWith("(probability)")) { lo = Math.max(lo, 0); hi = Math.min(hi, 1); }  // never outside 0-1
  const X = (i) => P + (n > 1 ? (i * (W - 2 * P)) / (n - 1) : (W - 2 * P) / 2);
  const TOP = 28;  // room for the chart's title above the highest point
  const Y = (y) => H - P / 2 - ((y - lo) * (H - P / 2 - TOP)) / (hi - lo);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("role", "img");
  const alerts = points.filter((p) => p.alert).length;
  svg.setAttribute("aria-label", `${name} over ${points.length} visits; latest ${points.at(-1).x.toFixed(2)}; ${alerts} change alert(s)`);
  const add = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); svg.append(e); return e; };
  add("text", { x: 2, y: 12 }).textContent = name;
  add("text", { x: 2, y: Y(hi) + 4 }).textContent = hi.toFixed(1);
  add("text", { x: 2, y: Y(lo) }).textContent = lo.toFixed(1);
  for (const p of points) if (p.iv) add("line", { x1: X(p.i), x2: X(p.i), y1: Y(p.iv[0]), y2: Y(p.iv[1]), stroke: "#7aa7e8", "stroke-width": 6 });
  add("polyline", { points: points.map((p) => `${X(p.i)},${Y(p.x)}`).join(" "), fill: "none", stroke: "#0b57d0", "stroke-width": 2 });
  // A change alert (beyond the person's own usual range) is a larger dark-red point.
  for (const p of points) add("circle", { cx: X(p.i), cy: Y(p.x), r: p.alert ? 7 : 4, fill: p.alert ? "#a50e0e" : "#0b57d0" });
  return svg;
}

function renderHistory(visits) {
  const charts = $("charts"); charts.replaceChildren();
  for (const [name, points] of Object.entries(series(visits))) charts.append(chart(name, points, visits.length));
  const keys = [...new Set(visits.flatMap((v) => Object.keys(v.values || {})))];
  const thead = $("history-table").tHead, tbody = $("history-table").tBodies[0];
  thead.replaceChildren(); tbody.replaceChildren();
  const head = thead.insertRow();
  for (const k of ["time", ...keys, "faces used"]) head.append(Object.assign(document.createElement("th"), { scope: "col", textContent: k }));
  for (const v of visits) {
    const row = tbody.insertRow();
    row.insertCell().textContent = v.time.replace("T", " ").slice(0, 19);
    for (const k of keys) {
      const iv = (v.intervals || {})[k];
      row.insertCell().textContent = k in v.values ? v.values[k].toFixed(1) + (iv ? ` (${iv[0].toFixed(1)}–${iv[1].toFixed(1)})` : "") : "";
    }
    row.insertCell().textContent = (v.quality || {}).faces_used ?? "";
  }
}

function renderAlerts(latest) {
  const box = $("alerts"); box.replaceChildren();
  const line = (text) => box.append(Object.assign(document.createElement("p"), { textContent: text }));
  if (!latest) { line("No visits yet."); return; }
  const checks = Object.values(latest.checks);
  const flagged = checks.filter((c) => c.status === "alert");
  if (checks.every((c) => c.status === "not_enough_visits")) line("Change alerts start after 3 visits.");
  else if (!flagged.length) line("No change alert at the latest visit.");
  for (const c of flagged) {
    line(`Change alert: ${c.key} ${c.value.toFixed(2)} is ${c.direction === "up" ? "above" : "below"} this person's usual range (${c.low.toFixed(2)} to ${c.high.toFixed(2)}, from ${c.n_baseline} earlier visits).`);
    box.lastChild.className = "alert";
  }
  line(latest.rule); box.lastChild.className = "rule";
}

async function download(path, name, type) {
  const blob = new Blob([await (await api(path)).text()], { type });
  const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  a.click(); URL.revokeObjectURL(a.href);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("/api/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: $("email").value, password: $("password").value }) }, false);
      saveTokens(await r.json()); say("Signed in."); route();
    } catch (err) { say(err.message, true); }
  });
  $("register-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { email: $("reg-email").value, password: $("reg-password").value };
    if ($("reg-invitation").value.trim()) body.invitation = $("reg-invitation").value.trim();
    try {
      const user = await (await api("/api/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
                                                            body: JSON.stringify(body) }, false)).json();
      $("email").value = user.email; $("register-form").reset();
      if (location.hash.startsWith("#/join/")) history.replaceState(null, "", "#/");  // the code is spent
      say(user.approved ? "Account created: sign in above." : "Account created: an admin must approve it before you can sign in.");
    } catch (err) { say(err.message, true); }
  });
  $("logout").addEventListener("click", async () => {
    try { await api("/api/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify({ refresh_token: tokens.refresh }) }, false); } catch (e) { /* already gone */ }
    sessionStorage.clear(); location.hash = "#/"; say("Signed out."); show("login-view");
  });
  $("person-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/api/people", { method: "POST", headers: { "Content-Type": "application/json" },
                                 body: JSON.stringify({ label: $("person-label").value }) });
      $("person-label").value = ""; say("Person added."); showPeople();
    } catch (err) { say(err.message, true); }
  });
  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(); form.append("image", $("photo").files[0]);
    form.append("store_image", $("store-image").checked ? "true" : "false");
    say("Analysing the photo…");
    try { await api(`/api/people/${currentPerson.id}/analyses`, { method: "POST", body: form });
          say("Analysis done."); showPerson(currentPerson.id); }
    catch (err) { say(err.message, true); }
  });
  $("video-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(); form.append("video", $("video").files[0]);
    const bar = $("video-progress"); bar.value = 0; bar.hidden = false;
    say("Uploading the video…");
    try {
      let job = await (await api(`/api/people/${currentPerson.id}/videos`, { method: "POST", body: form })).json();
      // The analysis runs in the background: poll its job until it ends.
      while (job.state === "queued" || job.state === "running") {
        say(job.state === "queued" ? "The video waits for its turn…" : `Analysing the video: ${job.frames_read} frames read…`);
        await new Promise((r) => setTimeout(r, 500));
        job = await (await api(`/api/jobs/${job.id}`)).json();
        bar.value = job.progress;
      }
      bar.hidden = true;
      if (job.state === "done") { say("Video analysis done."); showPerson(currentPerson.id); }
      else say("The video could not be analysed: " + job.error, true);
    } catch (err) { bar.hidden = true; say(err.message, true); }
  });
  $("download-html").addEventListener("click", () => download(`/api/people/${currentPerson.id}/report.html`, "report.html", "text/html").catch((e) => say(e.message, true)));
  $("download-csv").addEventListener("click", () => download(`/api/people/${currentPerson.id}/export.csv`, "visits.csv", "text/csv").catch((e) => say(e.message, true)));
  $("delete-person").addEventListener("click", async () => {
    if (!confirm(`Delete every analysis of ${currentPerson.label}? This cannot be undone.`)) return;
    try { await api(`/api/people/${currentPerson.id}`, { method: "DELETE" }); location.hash = "#/"; say("Deleted."); }
    catch (err) { say(err.message, true); }
  });
  window.addEventListener("hashchange", route);
  route();
});
