// The passkey page of the first release (/app/): enrollment, sign-in, the exam step-up and
// the proctor's check-in, through the API with a bearer token kept in sessionStorage.
"use strict";
const API = "/api/v1";
const TEXT = {
  vi: {
    nav_signin: "Đăng nhập", nav_enroll: "Đăng ký khóa truy cập", nav_exam: "Làm bài thi", nav_checkin: "Điểm danh (giám thị)",
    signin_title: "Đăng nhập", signin_passkey_help: "Dùng khóa truy cập (passkey) trên thiết bị này: vân tay, khuôn mặt hoặc mã PIN. Không cần nhập tên đăng nhập.",
    signin_passkey: "Đăng nhập bằng khóa truy cập", signin_password_title: "Đăng nhập bằng mật khẩu", login: "Tên đăng nhập", password: "Mật khẩu",
    signin_password: "Đăng nhập", signout: "Đăng xuất",
    enroll_title: "Đăng ký khóa truy cập", enroll_help: "Đăng nhập bằng mật khẩu của chính em trước, rồi nhập mã đăng ký do giáo viên hoặc giám thị cấp, trước mặt họ.",
    enroll_code: "Mã đăng ký", enroll_name: "Tên gọi của khóa (ví dụ: Điện thoại của em)", enroll_go: "Đăng ký", my_passkeys: "Khóa truy cập của tôi", refresh: "Làm mới",
    exam_title: "Làm bài thi", exam_help: "Kỳ thi yêu cầu khóa truy cập: mỗi lần bắt đầu hoặc tiếp tục làm bài, hãy xác thực lại trên thiết bị này.",
    my_attempts: "Bài thi của tôi", attempt_id: "Mã lượt làm bài", attempt_start: "Bắt đầu làm bài", attempt_resume: "Tiếp tục làm bài",
    checkin_title: "Điểm danh thí sinh", checkin_help: "Quét mã QR trên CCCD vào ô của thí sinh (máy quét gõ một dòng rồi Enter). Nếu không quét được, điểm danh thủ công và ghi lý do.",
    room_id: "Mã phòng thi", room_load: "Mở danh sách phòng", col_number: "SBD", col_name: "Họ và tên", col_status: "Trạng thái", col_checkin: "Điểm danh",
    checked_in: "Đã điểm danh", not_checked_in: "Chưa điểm danh", scan: "Quét CCCD", manual: "Thủ công", reason: "Lý do điểm danh thủ công",
    rename: "Đổi tên", revoke: "Thu hồi", new_name: "Tên mới", backed_up: "đồng bộ đám mây", clone: "nghi bị sao chép",
    ok: "Thành công.", signed_in_as: "Đang đăng nhập: ", enrolled_for: "Đăng ký cho: ", no_webauthn: "Trình duyệt này không hỗ trợ khóa truy cập.",
    started: "Đã vào bài. Thời gian còn lại (giây): ", cancelled: "Đã hủy thao tác trên thiết bị.", need_signin: "Hãy đăng nhập trước."
  },
  en: {
    nav_signin: "Sign in", nav_enroll: "Register a passkey", nav_exam: "Take an exam", nav_checkin: "Check-in (proctors)",
    signin_title: "Sign in", signin_passkey_help: "Use a passkey on this device: fingerprint, face or PIN. No login to type.",
    signin_passkey: "Sign in with a passkey", signin_password_title: "Sign in with a password", login: "Login", password: "Password",
    signin_password: "Sign in", signout: "Sign out",
    enroll_title: "Register a passkey", enroll_help: "Sign in with your own password first, then enter the enrollment code your teacher or proctor gives you, in front of them.",
    enroll_code: "Enrollment code", enroll_name: "A name for it (e.g. My phone)", enroll_go: "Register", my_passkeys: "My passkeys", refresh: "Refresh",
    exam_title: "Take an exam", exam_help: "Exams that require a passkey ask for it each time you start or resume, on this device.",
    my_attempts: "My attempts", attempt_id: "Attempt id", attempt_start: "Start", attempt_resume: "Resume",
    checkin_title: "Candidate check-in", checkin_help: "Scan the ID card's QR code into the candidate's box (the scanner types a line, then Enter). If it cannot be scanned, check in by hand with a reason.",
    room_id: "Room id", room_load: "Open the room's list", col_number: "No.", col_name: "Full name", col_status: "Status", col_checkin: "Check-in",
    checked_in: "Checked in", not_checked_in: "Not checked in", scan: "Scan ID card", manual: "By hand", reason: "Reason for a manual check-in",
    rename: "Rename", revoke: "Revoke", new_name: "New name", backed_up: "synced to a cloud account", clone: "suspected clone",
    ok: "Done.", signed_in_as: "Signed in: ", enrolled_for: "Registering for: ", no_webauthn: "This browser does not support passkeys.",
    started: "In the exam. Seconds left: ", cancelled: "Cancelled on the device.", need_signin: "Sign in first."
  }
};
let lang = localStorage.getItem("hocthi.lang") || "vi";
const t = key => TEXT[lang][key] || key;
const $ = id => document.getElementById(id);

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach(el => { el.textContent = t(el.dataset.t); });
  $("lang").textContent = lang === "vi" ? "English" : "Tiếng Việt";
  showWho();
}

function showSection() {
  const wanted = (location.hash || "#signin").slice(1);
  document.querySelectorAll("main > section").forEach(s => s.classList.toggle("shown", s.id === wanted));
}

// WebAuthn's binary fields travel as base64url text.
function fromB64u(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(raw, c => c.charCodeAt(0)).buffer;
}
function toB64u(buffer) {
  let raw = "";
  new Uint8Array(buffer).forEach(b => { raw += String.fromCharCode(b); });
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function creationOptions(options) {
  const o = structuredClone(options.publicKey);
  o.challenge = fromB64u(o.challenge);
  o.user.id = fromB64u(o.user.id);
  (o.excludeCredentials || []).forEach(c => { c.id = fromB64u(c.id); });
  return { publicKey: o };
}
function requestOptions(options) {
  const o = structuredClone(options.publicKey);
  o.challenge = fromB64u(o.challenge);
  (o.allowCredentials || []).forEach(c => { c.id = fromB64u(c.id); });
  return { publicKey: o };
}
function credentialJson(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toB64u(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64u(r.attestationObject);
  } else {
    response.authenticatorData = toB64u(r.authenticatorData);
    response.signature = toB64u(r.signature);
    response.userHandle = r.userHandle ? toB64u(r.userHandle) : null;
  }
  return { id: credential.id, rawId: toB64u(credential.rawId), type: credential.type,
           response, extensions: credential.getClientExtensionResults() };
}

async function call(method, path, body) {
  const headers = { "Accept-Language": lang };
  const token = sessionStorage.getItem("hocthi.token");
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await reply.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { /* an empty 204 */ }
  if (!reply.ok) {
    throw { status: reply.status, code: data && data.code, message: (data && (data.detail || data.title)) || text };
  }
  return data;
}

function deviceId() {
  let id = localStorage.getItem("hocthi.device");
  if (!id) { id = "web-" + crypto.randomUUID(); localStorage.setItem("hocthi.device", id); }
  return id;
}

// Every action reports to #out and leaves its promise in window.hocthi.pending (tests await it).
function run(action) {
  const out = $("out");
  out.dataset.state = "busy";
  out.textContent = "…";
  const pending = action().then(result => {
    out.dataset.state = "ok";
    out.textContent = result.message || t("ok");
    return { ok: true, data: result.data };
  }, error => {
    out.dataset.state = "error";
    if (error && error.name === "NotAllowedError") {
      out.textContent = t("cancelled");
      return { ok: false, code: "cancelled" };
    }
    out.textContent = (error && error.message) || String(error);
    return { ok: false, status: error && error.status, code: error && error.code, message: out.textContent };
  });
  window.hocthi.pending = pending;
  return pending;
}

async function afterSignIn(tokens) {
  sessionStorage.setItem("hocthi.token", tokens.access_token);
  const me = await call("GET", "/me");
  sessionStorage.setItem("hocthi.me", JSON.stringify({ login: me.login, full_name: me.full_name }));
  showWho();
  return { message: t("signed_in_as") + me.full_name, data: me };
}

function showWho() {
  const me = JSON.parse(sessionStorage.getItem("hocthi.me") || "null");
  $("who").textContent = me ? t("signed_in_as") + me.full_name : "";
}

async function signInWithPasskey() {
  if (!window.PublicKeyCredential) throw { message: t("no_webauthn") };
  const start = await call("POST", "/auth/passkey/start");
  const credential = await navigator.credentials.get(requestOptions(start.options));
  const tokens = await call("POST", "/auth/passkey/finish", { ceremony_id: start.ceremony_id, credential: credentialJson(credential) });
  return afterSignIn(tokens);
}

async function signInWithPassword() {
  const tokens = await call("POST", "/auth/login", { login: $("login").value, password: $("password").value });
  return afterSignIn(tokens);
}

async function enroll() {
  if (!window.PublicKeyCredential) throw { message: t("no_webauthn") };
  const start = await call("POST", "/passkeys/registration/start", { code: $("enroll-code").value });
  $("out").textContent = t("enrolled_for") + start.full_name;
  const credential = await navigator.credentials.create(creationOptions(start.options));
  const name = $("enroll-name").value.trim() || undefined;
  const created = await call("POST", "/passkeys/registration/finish", { ceremony_id: start.ceremony_id, credential: credentialJson(credential), name });
  return { message: t("ok") + " " + t("enrolled_for") + start.full_name, data: created };
}

async function listPasskeys() {
  const keys = await call("GET", "/me/passkeys");
  const body = $("passkeys");
  body.replaceChildren();
  for (const key of keys) {
    const row = body.insertRow();
    const flags = [key.backed_up ? t("backed_up") : "", key.clone_suspected_at ? t("clone") : ""].filter(Boolean).join(", ");
    row.insertCell().textContent = key.name + (flags ? " (" + flags + ")" : "");
    row.insertCell().textContent = new Date(key.created_at).toLocaleString(lang);
    const actions = row.insertCell();
    const rename = document.createElement("button");
    rename.textContent = t("rename");
    rename.onclick = () => run(async () => {
      const name = prompt(t("new_name"), key.name);
      if (name) await call("PATCH", "/me/passkeys/" + key.id, { name });
      return listPasskeys();
    });
    const revoke = document.createElement("button");
    revoke.textContent = t("revoke");
    revoke.onclick = () => run(async () => { await call("DELETE", "/me/passkeys/" + key.id); return listPasskeys(); });
    actions.append(rename, revoke);
  }
  return { message: t("ok"), data: keys };
}

async function listAttempts() {
  const attempts = await call("GET", "/me/attempts");
  const body = $("attempts");
  body.replaceChildren();
  for (const a of attempts) {
    const row = body.insertRow();
    row.insertCell().textContent = a.id;
    row.insertCell().textContent = a.state;
    const pick = document.createElement("button");
    pick.textContent = "↵";
    pick.onclick = () => { $("attempt-id").value = a.id; };
    row.insertCell().append(pick);
  }
  return { message: t("ok"), data: attempts };
}

// A fresh assertion bound to this attempt and this device, then start or resume with it.
async function enterAttempt(how) {
  if (!sessionStorage.getItem("hocthi.token")) throw { message: t("need_signin") };
  const id = $("attempt-id").value.trim();
  const device_id = deviceId();
  const challenge = await call("POST", "/attempts/" + id + "/passkey-challenge", { device_id });
  const credential = await navigator.credentials.get(requestOptions(challenge.options));
  const attempt = await call("POST", "/attempts/" + id + "/" + how, {
    device_id, passkey: { ceremony_id: challenge.ceremony_id, credential: credentialJson(credential) } });
  return { message: t("started") + attempt.remaining_seconds, data: attempt };
}

async function loadRoom() {
  const room = await call("GET", "/rooms/" + $("room-id").value.trim() + "/status");
  const body = $("seats");
  body.replaceChildren();
  for (const seat of room.seats) {
    const row = body.insertRow();
    row.dataset.candidate = seat.candidate_id;
    row.insertCell().textContent = seat.number;
    row.insertCell().textContent = seat.full_name;
    row.insertCell().textContent = seat.checked_in ? t("checked_in") : t("not_checked_in");
    const cell = row.insertCell();
    const qr = document.createElement("input");
    qr.className = "qr";
    qr.placeholder = t("scan");
    qr.addEventListener("keydown", e => { if (e.key === "Enter") run(() => checkInWithCard(seat.candidate_id, qr.value)); });
    const scan = document.createElement("button");
    scan.className = "scan";
    scan.textContent = t("scan");
    scan.onclick = () => run(() => checkInWithCard(seat.candidate_id, qr.value));
    const manual = document.createElement("button");
    manual.textContent = t("manual");
    manual.onclick = () => run(async () => {
      const reason = prompt(t("reason"));
      if (!reason) throw { message: t("reason") };
      await call("POST", "/candidates/" + seat.candidate_id + "/check-in", { reason });
      return loadRoom();
    });
    cell.append(qr, scan, manual);
  }
  return { message: room.name, data: room };
}

async function checkInWithCard(candidate, qr) {
  await call("POST", "/candidates/" + candidate + "/check-in/id-card", { qr });
  const room = await loadRoom();
  return { message: t("ok") + " " + t("checked_in"), data: room.data };
}

window.hocthi = { pending: null };
$("signin-passkey").onclick = () => run(signInWithPasskey);
$("signin-password").onclick = () => run(signInWithPassword);
$("signout").onclick = () => { sessionStorage.clear(); showWho(); };
$("enroll-go").onclick = () => run(enroll);
$("passkeys-list").onclick = () => run(listPasskeys);
$("attempts-list").onclick = () => run(listAttempts);
$("attempt-start").onclick = () => run(() => enterAttempt("start"));
$("attempt-resume").onclick = () => run(() => enterAttempt("resume"));
$("room-load").onclick = () => run(loadRoom);
$("lang").onclick = () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("hocthi.lang", lang); applyLanguage(); };
window.addEventListener("hashchange", showSection);
applyLanguage();
showSection();
