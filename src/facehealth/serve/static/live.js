// The live camera page: camera frames go to /api/live over a WebSocket, events come back.
// Protocol (facehealth.serve.live): {"token"} first, then binary frames = float64 LE time + JPEG.
"use strict";
const $ = (id) => document.getElementById(id);
const FRAME_WIDTH = 640;  // what the tracker is tuned for; larger frames only cost bandwidth

let ws = null, stream = null, t0 = 0, frames = 0, started = 0, inFlight = false, lastSent = -1;
const grab = document.createElement("canvas");

function say(message, error = false) { $("status").textContent = message; $("status").className = error ? "error" : ""; }

async function accessToken() {
  // The access token lives minutes: check it, and trade the refresh token for a new one if needed.
  const token = sessionStorage.getItem("access");
  if (token && (await fetch("/api/model", { headers: { Authorization: "Bearer " + token } })).status !== 401) return token;
  const refresh = sessionStorage.getItem("refresh");
  if (!refresh) return null;
  const r = await fetch("/api/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
                                               body: JSON.stringify({ refresh_token: refresh }) });
  if (!r.ok) return null;
  const t = await r.json();
  sessionStorage.setItem("access", t.access_token); sessionStorage.setItem("refresh", t.refresh_token);
  return t.access_token;
}

function sendFrame(presentedAt) {
  // One frame in flight, and only a frame the camera has not delivered before: the next one goes
  // when the server has answered this one, so nothing queues and no frame is sent twice.
  const video = $("video");
  if (inFlight || !ws || ws.readyState !== WebSocket.OPEN || !video.videoWidth || presentedAt === lastSent) return;
  inFlight = true; lastSent = presentedAt;
  if (t0 === null) t0 = presentedAt;  // the session's clock starts at its first frame
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  grab.width = Math.round(video.videoWidth * scale); grab.height = Math.round(video.videoHeight * scale);
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  const time = (presentedAt - t0) / 1000;
  grab.toBlob((blob) => {
    const header = new ArrayBuffer(8); new DataView(header).setFloat64(0, time, true);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(new Blob([header, blob])); else inFlight = false;
  }, "image/jpeg", 0.9);
}

let latestFrameAt = -1;

function watchFrames() {
  // requestVideoFrameCallback tells when the camera presents a new frame, and when; without it,
  // poll at 30 Hz and send whatever is on screen.
  const video = $("video");
  if (!stream) return;
  if (video.requestVideoFrameCallback) {
    video.requestVideoFrameCallback((now) => { latestFrameAt = now; sendFrame(now); watchFrames(); });
  } else {
    setTimeout(() => { latestFrameAt = performance.now(); sendFrame(latestFrameAt); watchFrames(); }, 33);
  }
}

function answered() { inFlight = false; sendFrame(latestFrameAt); }

function draw(event) {
  const video = $("video"), overlay = $("overlay");
  overlay.width = video.clientWidth; overlay.height = video.clientHeight;
  const ctx = overlay.getContext("2d"); ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (!event.box) return;
  const sx = overlay.width / grab.width, sy = overlay.height / grab.height;
  ctx.lineWidth = 3; ctx.strokeStyle = event.quality.passed ? "#1e8e3e" : "#f9ab00";
  const [x0, y0, x1, y1] = event.box; ctx.strokeRect(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy);
  ctx.fillStyle = "#7aa7e8";
  for (const [x, y] of event.landmarks || []) { ctx.beginPath(); ctx.arc(x * sx, y * sy, 2, 0, 2 * Math.PI); ctx.fill(); }
}

function fmt(x) { return x === null || x === undefined ? "" : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2); }

function showEvent(event) {
  frames += 1;
  draw(event);
  $("hints").textContent = event.hints.join(" ");
  const hr = event.heart_rate;
  if (hr) $("heart-rate").textContent = `${Math.round(hr.bpm)} beats per minute` + (hr.reliable ? "" : " (weak signal: hold still, more light)");
  const body = $("scores").tBodies[0]; body.replaceChildren();
  for (const [name, s] of Object.entries(event.scores)) {
    const row = body.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = s.status === "warming_up" ? "not enough good frames yet" : fmt(s.value);
    row.insertCell().textContent = s.low !== null ? `${fmt(s.low)} to ${fmt(s.high)}` : "";
    row.insertCell().textContent = s.n_frames;
  }
  const seconds = (performance.now() - started) / 1000;
  $("stats").textContent = `${frames} frames analysed (${(frames / seconds).toFixed(1)} per second), ${event.dropped_frames} dropped, ${event.latency_ms.toFixed(0)} ms per frame on the server.`;
}

async function start() {
  const token = await accessToken();
  if (!token) { say("Sign in on the People page first.", true); return; }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (err) { say("No camera: " + err.message, true); return; }
  const video = $("video"); video.srcObject = stream; await video.play();
  $("start").hidden = true; $("stop").hidden = false;
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live");
  ws.onopen = () => ws.send(JSON.stringify({ token }));
  ws.onmessage = (m) => {
    const message = JSON.parse(m.data);
    if (message.type === "ready") {
      const warnings = $("warnings");
      warnings.textContent = message.warnings.join(" "); warnings.hidden = !message.warnings.length;
      say("Live: look at the camera and keep still."); t0 = null; started = performance.now(); frames = 0;
      inFlight = false; lastSent = -1; watchFrames();
    } else if (message.type === "event") { showEvent(message); answered(); }
    else if (message.type === "warning") { say(message.message, true); answered(); }
    else if (message.type === "error") say(message.message, true);
  };
  ws.onclose = () => { if (ws) { say("The live session ended."); stop(); } };
}

function stop() {
  const socket = ws; ws = null;
  if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: "stop" })); socket.close(); }
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null; $("start").hidden = false; $("stop").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", () => { stop(); say("Stopped."); });
});
