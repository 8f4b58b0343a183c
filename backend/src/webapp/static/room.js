// The proctor's room: the seat map kept live from the dashboard's event stream (the session
// cookie authenticates it; a revoked session stops receiving), check-in by the ID card's QR
// line (a USB scanner types it, or the camera reads it where the browser can) or by hand with
// a reason, and every action on a seat or the room, each with its reason.
const root = document.getElementById("room");
const texts = JSON.parse(document.getElementById("texts").textContent);
const roomId = root.dataset.room;
const questions = Number(root.dataset.questions || 0);
const live = document.getElementById("live");
const message = document.getElementById("room-message");

function t(key, values = {}) {
  return Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), texts[key] || key);
}

async function call(method, path, body) {
  const reply = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Accept-Language": document.documentElement.lang, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (reply.status === 401) {
    // One renewal for every script and tab (site.js): a refresh cookie spent twice ends the session.
    const renewed = await window.hocthiSession.renew();
    if (!renewed) location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
  }
  return reply;
}

async function problemOf(reply) {
  try {
    const p = await reply.json();
    return { code: p.code, title: p.title || p.code, errors: p.errors || [] };
  } catch {
    return { code: "unknown", title: String(reply.status), errors: [] };
  }
}

// -- the map ----------------------------------------------------------------------------------
const stateKey = {
  not_started: "state_not_started", in_progress: "state_in_progress", paused: "state_paused",
  submitted: "state_submitted", auto_submitted: "state_submitted", voided: "state_closed",
};
let lastSnapshot = null;

function rowOf(candidate) {
  return root.querySelector(`tr[data-candidate="${candidate}"]`);
}

function ago(at) {
  if (!at || !lastSnapshot) return t("never");
  const seconds = Math.max(0, Math.round((Date.parse(lastSnapshot.server_now) - Date.parse(at)) / 1000));
  return t("seconds_ago", { n: seconds });
}

function showSeat(seat) {
  const row = rowOf(seat.candidate_id);
  if (!row) {
    location.reload();
    return;
  }
  const state = seat.state || "not_started";
  row.dataset.attempt = seat.attempt_id || "";
  row.dataset.state = state;
  row.dataset.checkedIn = seat.checked_in ? "1" : "";
  const checkIn = row.querySelector(".check-in .pill");
  checkIn.dataset.on = seat.checked_in ? "1" : "";
  checkIn.textContent = seat.checked_in ? t("checked_in_short") : t("not_checked_in");
  row.querySelector(".check-in-button").hidden = seat.checked_in;
  const pill = row.querySelector(".state .pill");
  pill.dataset.state = state;
  pill.textContent = t(stateKey[state] || "state_closed");
  row.querySelector(".answered").textContent = `${seat.answered}/${questions}`;
  row.querySelector(".heartbeat").textContent = ago(seat.last_heartbeat);
  row.querySelector(".incidents").textContent = String(seat.incidents);
  const device = row.querySelector(".device");
  device.replaceChildren();
  if (seat.device_switch_pending) {
    const span = document.createElement("span");
    span.className = "pill";
    span.dataset.state = "paused";
    span.textContent = t("device_switch_pending");
    device.append(span);
  } else {
    device.textContent = t("device_ok");
  }
}

function showSnapshot(snapshot) {
  lastSnapshot = snapshot;
  snapshot.seats.forEach(showSeat);
  root.dataset.updated = snapshot.server_now;
}

/// A fresh snapshot now (after an action, or an event that changes more than a heartbeat).
let refreshing = null;
function refresh() {
  refreshing ??= (async () => {
    try {
      const reply = await call("GET", `/api/v1/rooms/${roomId}/status`);
      if (reply.ok) showSnapshot(await reply.json());
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function connect() {
  const events = new EventSource(`/api/v1/rooms/${roomId}/dashboard`);
  events.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = t("room_live");
  });
  events.addEventListener("snapshot", e => showSnapshot(JSON.parse(e.data)));
  events.addEventListener("live", e => {
    const event = JSON.parse(e.data);
    if (event.type === "heartbeat" && lastSnapshot && !(event.incidents || []).length) {
      const seat = lastSnapshot.seats.find(s => s.attempt_id === event.attempt);
      if (seat) {
        seat.last_heartbeat = event.at;
        lastSnapshot.server_now = event.at;
        showSeat(seat);
        return;
      }
    }
    refresh();
  });
  events.addEventListener("error", () => {
    // The browser reconnects by itself; say so meanwhile.
    live.dataset.state = "connecting";
    live.textContent = t("room_reconnecting");
  });
}
connect();

function say(text) {
  message.textContent = text;
  message.hidden = false;
}

// -- check-in -----------------------------------------------------------------------------------
const checkInDialog = document.getElementById("check-in-dialog");
const cardForm = document.getElementById("card-form");
const manualForm = document.getElementById("manual-form");
const qrLine = document.getElementById("qr-line");
const cardProblem = document.getElementById("card-problem");
const video = document.getElementById("camera");
const cameraStart = document.getElementById("camera-start");
const cameraStop = document.getElementById("camera-stop");
let checkingIn = null;
let stream = null;

function openCheckIn(row) {
  checkingIn = row;
  document.getElementById("check-in-title").textContent = t("check_in_for", { name: row.dataset.name });
  cardProblem.hidden = true;
  qrLine.value = "";
  document.getElementById("manual-reason").value = "";
  checkInDialog.showModal();
  qrLine.focus();
}

function showProblem(box, p) {
  box.replaceChildren();
  const head = document.createElement("p");
  head.textContent = p.code === "id_card_mismatch" ? t("card_mismatch") : p.title;
  box.append(head);
  if (p.errors.length) {
    const list = document.createElement("ul");
    for (const error of p.errors) {
      const item = document.createElement("li");
      item.textContent = error.message || error.code;
      list.append(item);
    }
    box.append(list);
  }
  box.hidden = false;
}

async function checkedIn(reply) {
  if (reply.ok) {
    stopCamera();
    checkInDialog.close();
    say(t("done_ok"));
    await refresh();
    return true;
  }
  showProblem(cardProblem, await problemOf(reply));
  return false;
}

cardForm.addEventListener("submit", async e => {
  e.preventDefault();
  const qr = qrLine.value.trim();
  if (!qr || !checkingIn) return;
  await checkedIn(await call("POST", `/api/v1/candidates/${checkingIn.dataset.candidate}/check-in/id-card`, { qr }));
});
manualForm.addEventListener("submit", async e => {
  e.preventDefault();
  const reason = document.getElementById("manual-reason").value.trim();
  if (!reason || !checkingIn) return;
  await checkedIn(await call("POST", `/api/v1/candidates/${checkingIn.dataset.candidate}/check-in`, { reason }));
});

function stopCamera() {
  stream?.getTracks().forEach(track => track.stop());
  stream = null;
  video.hidden = true;
  cameraStop.hidden = true;
  cameraStart.hidden = false;
}
cameraStop.addEventListener("click", stopCamera);
cameraStart.addEventListener("click", async () => {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) {
    showProblem(cardProblem, { title: t("camera_unavailable"), errors: [] });
    return;
  }
  try {
    const detector = new BarcodeDetector({ formats: ["qr_code"] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    cameraStop.hidden = false;
    cameraStart.hidden = true;
    await video.play();
    const look = async () => {
      if (!stream) return;
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length > 0) {
        qrLine.value = codes[0].rawValue;
        stopCamera();
        cardForm.requestSubmit();
        return;
      }
      requestAnimationFrame(look);
    };
    look();
  } catch {
    stopCamera();
    showProblem(cardProblem, { title: t("camera_unavailable"), errors: [] });
  }
});
checkInDialog.addEventListener("close", stopCamera);

// -- actions --------------------------------------------------------------------------------------
const actionDialog = document.getElementById("action-dialog");
const actionForm = document.getElementById("action-form");
const actionSelect = document.getElementById("action");
const minutesField = document.getElementById("minutes-field");
const actionProblem = document.getElementById("action-problem");
let acting = null; // the seat's row, or null for the whole room

function openActions(row, preset) {
  acting = row;
  const scope = row ? "seat" : "room";
  document.getElementById("action-title").textContent = row
    ? t("seat_actions_for", { name: row.dataset.name })
    : document.querySelector(".room-actions").getAttribute("aria-label");
  for (const option of actionSelect.options) {
    const fits = option.dataset.for.split(" ").includes(scope);
    const attempt = row?.dataset.attempt;
    option.hidden = !fits || (scope === "seat" && option.value !== "report" && !attempt);
    option.disabled = option.hidden;
  }
  const first = [...actionSelect.options].find(o => !o.hidden);
  actionSelect.value = preset || first?.value || "report";
  document.getElementById("reason").value = "";
  actionProblem.hidden = true;
  showFields();
  actionDialog.showModal();
  actionSelect.focus();
}

function showFields() {
  minutesField.hidden = actionSelect.value !== "add_time";
  document.getElementById("reason-label").textContent = actionSelect.value === "report"
    ? actionSelect.options[actionSelect.selectedIndex].textContent
    : actionSelect.form.querySelector("#reason-label").dataset.reason || document.getElementById("reason-label").textContent;
}
document.getElementById("reason-label").dataset.reason = document.getElementById("reason-label").textContent;
actionSelect.addEventListener("change", showFields);

actionForm.addEventListener("submit", async e => {
  e.preventDefault();
  const action = actionSelect.value;
  const reason = document.getElementById("reason").value.trim();
  if (!reason) return;
  const attempt = acting?.dataset.attempt;
  const request = {
    admit_late: () => [`/api/v1/attempts/${attempt}/admit-late`, { reason }],
    pause: () => [`/api/v1/attempts/${attempt}/pause`, { reason }],
    continue: () => [`/api/v1/attempts/${attempt}/continue`, { reason }],
    add_time: () => [`/api/v1/attempts/${attempt}/add-time`, { reason, minutes: Number(document.getElementById("minutes").value) }],
    approve_device: () => [`/api/v1/attempts/${attempt}/approve-device`, { reason }],
    void: () => [`/api/v1/attempts/${attempt}/void`, { reason }],
    report: () => [`/api/v1/rooms/${roomId}/incident-reports`, attempt ? { attempt_id: attempt, text: reason } : { text: reason }],
    pause_room: () => [`/api/v1/rooms/${roomId}/pause`, { reason }],
    continue_room: () => [`/api/v1/rooms/${roomId}/continue`, { reason }],
  }[action]();
  const reply = await call("POST", ...request);
  if (reply.ok) {
    actionDialog.close();
    say(t("done_ok"));
    await refresh();
  } else {
    showProblem(actionProblem, await problemOf(reply));
  }
});

for (const dialog of [checkInDialog, actionDialog]) {
  dialog.querySelectorAll("[data-close]").forEach(b => b.addEventListener("click", () => dialog.close()));
}

root.addEventListener("click", e => {
  const button = e.target.closest("button");
  if (!button) return;
  if (button.dataset.roomAction) {
    openActions(null, button.dataset.roomAction);
  } else if (button.dataset.seatAction === "check_in") {
    openCheckIn(button.closest("tr"));
  } else if (button.dataset.seatAction === "menu") {
    openActions(button.closest("tr"));
  }
});
