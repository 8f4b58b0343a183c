// The waiting room and the test page. Every answer goes into a journal in this browser
// (IndexedDB) with its sequence number before it is sent; it counts as saved only when the
// server acknowledges that sequence, and a save that failed is sent again until it is. The
// clock shown follows the server's heartbeat. docs/web-pages.md tells the whole design.
const root = document.getElementById("exam") || document.getElementById("lobby");
const texts = JSON.parse(document.getElementById("texts").textContent);
const attempt = root.dataset.attempt;
const api = `/api/v1/attempts/${attempt}`;

function t(key, values = {}) {
  return Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), texts[key] || key);
}

/// A random id this browser keeps for itself: the server ties an attempt to one device.
function deviceId() {
  let id = localStorage.getItem("hocthi.device");
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem("hocthi.device", id);
  }
  return id;
}
const device = deviceId();

/// A call to the API with the session cookie; an expired session is renewed once and the call
/// made again; a session that cannot be renewed goes to the sign-in page (the journal stays).
async function call(method, path, body) {
  const init = {
    method,
    credentials: "same-origin",
    headers: {
      // The API's messages in the page's language, whatever the browser prefers.
      "Accept-Language": document.documentElement.lang,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
  let reply = await fetch(path, init);
  if (reply.status === 401) {
    // One renewal for every script and tab (site.js): a refresh cookie spent twice ends the session.
    const renewed = await window.hocthiSession.renew();
    if (!renewed) {
      location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
      throw new Error("signed out");
    }
    reply = await fetch(path, init);
  }
  return reply;
}

async function problemOf(reply) {
  try {
    const p = await reply.json();
    return { code: p.code || "unknown", title: p.title || "" };
  } catch {
    return { code: "unknown", title: "" };
  }
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

/// A fresh passkey assertion bound to this attempt and device, for a policy that asks for one.
async function passkeyProof() {
  const reply = await call("POST", `${api}/passkey-challenge`, { device_id: device });
  if (!reply.ok) throw await problemOf(reply);
  const challenge = await reply.json();
  const options = structuredClone(challenge.options.publicKey);
  options.challenge = fromB64u(options.challenge);
  (options.allowCredentials || []).forEach(c => { c.id = fromB64u(c.id); });
  const credential = await navigator.credentials.get({ publicKey: options });
  const r = credential.response;
  return {
    ceremony_id: challenge.ceremony_id,
    credential: {
      id: credential.id, rawId: toB64u(credential.rawId), type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64u(r.clientDataJSON), authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature), userHandle: r.userHandle ? toB64u(r.userHandle) : null,
      },
    },
  };
}

function waitFor(ms) {
  // Wakes early when the network comes back, so a queued save goes at once.
  return new Promise(resolve => {
    const done = () => { removeEventListener("online", done); resolve(); };
    setTimeout(done, ms);
    addEventListener("online", done);
  });
}

// ---------------------------------------------------------------------------------------------
// The waiting room
// ---------------------------------------------------------------------------------------------
if (root.id === "lobby") {
  const start = document.getElementById("start");
  const problem = document.getElementById("start-problem");
  if (start.disabled) {
    // Waiting for the proctor's check-in: look again now and then (spread out, not in step).
    setTimeout(() => location.reload(), 15000 + Math.random() * 10000);
  }
  start.addEventListener("click", async () => {
    start.disabled = true;
    problem.hidden = true;
    try {
      const body = { device_id: device };
      if (root.dataset.passkey) body.passkey = await passkeyProof();
      const reply = await call("POST", `${api}/start`, body);
      if (reply.ok) {
        location.reload();
        return;
      }
      const p = await problemOf(reply);
      if (p.code === "attempt_already_started") {
        location.reload();
        return;
      }
      problem.textContent = p.title || p.code;
      problem.hidden = false;
    } catch (e) {
      problem.textContent = e && e.title ? e.title : t("save_offline");
      problem.hidden = false;
    }
    start.disabled = false;
  });
}

// ---------------------------------------------------------------------------------------------
// The journal: IndexedDB database "hocthi", one entry per change, keyed [attempt, seq].
// ---------------------------------------------------------------------------------------------
function openJournal() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("hocthi", 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore("journal", { keyPath: ["attempt", "seq"] });
      store.createIndex("attempt", "attempt");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function inStore(db, mode, work) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction("journal", mode);
    const result = work(tx.objectStore("journal"));
    tx.oncomplete = () => resolve(result.value);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

const journal = {
  db: null,
  async entries() {
    return inStore(this.db, "readonly", store => {
      const out = {};
      store.index("attempt").getAll(attempt).onsuccess = e => { out.value = e.target.result; };
      return out;
    });
  },
  async add(entry) {
    return inStore(this.db, "readwrite", store => { store.put(entry); return {}; });
  },
  /// Marks every entry up to `seq` acknowledged.
  async acknowledge(seq) {
    return inStore(this.db, "readwrite", store => {
      const range = IDBKeyRange.bound([attempt, 0], [attempt, seq]);
      store.openCursor(range).onsuccess = e => {
        const cursor = e.target.result;
        if (!cursor) return;
        if (!cursor.value.acked) cursor.update({ ...cursor.value, acked: true });
        cursor.continue();
      };
      return {};
    });
  },
};

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------
if (root.id === "exam") {
  const questions = [...document.querySelectorAll(".question")];
  const links = new Map([...document.querySelectorAll(".qlink")].map(a => [Number(a.dataset.slot), a]));
  const saveState = document.getElementById("save-state");
  const clock = document.getElementById("clock");
  const warning = document.getElementById("warning");
  const paused = document.getElementById("paused");
  const deviceWait = document.getElementById("device-wait");
  const heartbeatMs = Number(root.dataset.heartbeat || 30) * 1000;

  const answers = new Map();  // slot -> value as sent ("B", ["Đ", null, "S", "Đ"], "-1,5", text)
  const pending = new Map();  // slot -> { seq, value } not yet acknowledged
  const flagKey = `hocthi.flags.${attempt}`;
  const flags = new Set(JSON.parse(localStorage.getItem(flagKey) || "[]"));
  let lastSeq = 0;
  let ready = false;
  let incidents = [];
  let clockState = { seconds: null, at: performance.now(), state: "in_progress" };
  let warned = { 5: false, 1: false };
  let submitting = false;

  const partOf = slot => Number(questions.find(q => Number(q.dataset.slot) === slot)?.dataset.part || 0);
  const questionOf = slot => questions.find(q => Number(q.dataset.slot) === slot);

  function setSaveState(state) {
    const key = { saved: "save_saved", saving: "save_saving", offline: "save_offline", refused: "save_refused" }[state];
    if (saveState.dataset.state !== state) {
      saveState.dataset.state = state;
      saveState.textContent = t(key);
    }
  }

  function isAnswered(value) {
    if (value === null || value === undefined) return false;
    if (Array.isArray(value)) return value.every(m => m === "Đ" || m === "S");
    return String(value).trim() !== "";
  }

  function roman(part) {
    return ["", "I", "II", "III", "IV"][part] || String(part);
  }

  function label(slot) {
    const q = questionOf(slot);
    return `${t("question_n", { n: q.dataset.number })} (${t("part_n", { n: roman(Number(q.dataset.part)) })})`;
  }

  function markNav(slot) {
    const link = links.get(slot);
    if (!link) return;
    const answered = isAnswered(answers.get(slot));
    link.toggleAttribute("data-answered", answered);
    link.toggleAttribute("data-flagged", flags.has(slot));
    const state = [answered ? t("answered") : t("not_answered")];
    if (flags.has(slot)) state.push(t("flagged"));
    link.setAttribute("aria-label", `${label(slot)}: ${state.join(", ")}`);
  }

  // -- showing stored answers -----------------------------------------------------------------
  function marksOf(value) {
    if (Array.isArray(value)) return value;
    if (typeof value === "string") return [...value].map(c => (c === "Đ" || c === "S" ? c : null));
    return [null, null, null, null];
  }

  function show(slot, value) {
    const q = questionOf(slot);
    if (!q) return;
    const part = Number(q.dataset.part);
    if (part === 1) {
      q.querySelectorAll("input[type=radio]").forEach(i => { i.checked = i.value === value; });
    } else if (part === 2) {
      const marks = marksOf(value);
      q.querySelectorAll("input[type=radio]").forEach(i => { i.checked = marks[Number(i.dataset.mark)] === i.value; });
    } else {
      const field = q.querySelector("input.short, textarea");
      if (field && document.activeElement !== field) field.value = value ?? "";
    }
  }

  // -- recording a change ---------------------------------------------------------------------
  async function record(slot, value) {
    answers.set(slot, value);
    markNav(slot);
    const seq = ++lastSeq;
    pending.set(slot, { seq, value });
    setSaveState("saving");
    try {
      await journal.add({ attempt, seq, slot, value, acked: false, at: Date.now() });
    } catch {
      // Private browsing without IndexedDB: the answer still goes to the server.
    }
    send();
  }

  /// The same rule as the server (exam_format.rs): at most 4 of 0-9, "-" and ",".
  function shortAnswer(raw) {
    const text = raw.trim().replaceAll(".", ",");
    if (text === "") return { ok: true, value: null };
    if ([...text].length > 4 || !/^[0-9,-]+$/.test(text)) return { ok: false };
    return { ok: true, value: text };
  }

  const essayTimers = new Map();
  for (const q of questions) {
    const slot = Number(q.dataset.slot);
    const part = Number(q.dataset.part);
    q.addEventListener("change", e => {
      const input = e.target;
      if (input.classList.contains("flag-box")) {
        input.checked ? flags.add(slot) : flags.delete(slot);
        localStorage.setItem(flagKey, JSON.stringify([...flags]));
        markNav(slot);
        return;
      }
      if (part === 1 && input.type === "radio") {
        record(slot, input.value);
      } else if (part === 2 && input.type === "radio") {
        const marks = marksOf(answers.get(slot)).slice();
        marks[Number(input.dataset.mark)] = input.value;
        record(slot, marks);
      }
    });
    const field = q.querySelector("input.short");
    if (field) {
      const error = q.querySelector(".field-error");
      const check = () => {
        const parsed = shortAnswer(field.value);
        error.hidden = parsed.ok;
        error.textContent = parsed.ok ? "" : t("short_answer_invalid");
        field.toggleAttribute("aria-invalid", !parsed.ok);
        if (!parsed.ok) field.setAttribute("aria-invalid", "true");
        return parsed;
      };
      // "change" as well: a field emptied by a tool, or filled by the browser, sends no "input".
      for (const kind of ["input", "change"]) {
        field.addEventListener(kind, () => {
          const parsed = check();
          if (parsed.ok && parsed.value !== (answers.get(slot) ?? null)) record(slot, parsed.value);
        });
      }
    }
    const essay = q.querySelector("textarea");
    if (essay) {
      essay.addEventListener("input", () => {
        clearTimeout(essayTimers.get(slot));
        essayTimers.set(slot, setTimeout(() => record(slot, essay.value), 800));
      });
      essay.addEventListener("blur", () => {
        clearTimeout(essayTimers.get(slot));
        if (essay.value !== (answers.get(slot) ?? "")) record(slot, essay.value);
      });
    }
  }

  // -- sending --------------------------------------------------------------------------------
  let sending = false;
  let backoff = 1000;
  async function send() {
    if (sending || !ready) return;
    sending = true;
    try {
      while (pending.size > 0) {
        const batch = [...pending.entries()].map(([slot, e]) => ({ slot, seq: e.seq, value: e.value }));
        const seq = Math.max(...batch.map(b => b.seq));
        let reply;
        try {
          reply = await call("PUT", `${api}/answers`, {
            device_id: device, seq, answers: batch.map(b => ({ slot: b.slot, value: b.value })),
          });
        } catch {
          setSaveState("offline");
          await waitFor(backoff);
          backoff = Math.min(backoff * 2, 10000);
          continue;
        }
        if (reply.ok) {
          backoff = 1000;
          const ack = await reply.json();
          for (const b of batch) {
            if (pending.get(b.slot)?.seq === b.seq) pending.delete(b.slot);
          }
          try { await journal.acknowledge(seq); } catch { /* no journal */ }
          if (ack.deadline) adoptDeadline(ack.deadline, ack.server_now);
          continue;
        }
        const p = await problemOf(reply);
        if (p.code === "attempt_paused") {
          showPaused(true);
          await waitFor(heartbeatMs);
        } else if (p.code === "device_not_current") {
          ready = false;
          resume();
          return;
        } else if (["deadline_passed", "attempt_closed", "attempt_not_in_progress", "section_closed"].includes(p.code)) {
          location.reload();
          return;
        } else if (reply.status === 422) {
          // The server refused these values: keep them shown, tell the candidate, stop resending.
          for (const b of batch) pending.delete(b.slot);
          setSaveState("refused");
          return;
        } else {
          // Overload (503/429 with Retry-After) or a failing server: the same save again.
          setSaveState(navigator.onLine ? "saving" : "offline");
          const after = Number(reply.headers.get("Retry-After") || 0) * 1000;
          await waitFor(Math.max(after, backoff));
          backoff = Math.min(backoff * 2, 10000);
        }
      }
      setSaveState("saved");
    } finally {
      sending = false;
    }
  }
  addEventListener("online", () => { send(); beat(); });
  addEventListener("offline", () => {
    incidents.push("network_lost");
    setSaveState("offline");
  });

  // -- the clock ------------------------------------------------------------------------------
  function setClock(seconds, state) {
    clockState = { seconds, at: performance.now(), state };
    showPaused(state === "paused");
    if (seconds > 300) warned[5] = false;
    if (seconds > 60) warned[1] = false;
    if (state !== "in_progress" && state !== "paused") location.reload();
    tick();
  }
  function adoptDeadline(deadline, serverNow) {
    const seconds = Math.max(0, Math.round((Date.parse(deadline) - Date.parse(serverNow)) / 1000));
    setClock(seconds, clockState.state === "paused" ? "in_progress" : clockState.state);
  }
  /// While the proctor holds the test (paused, or this computer not yet approved), nothing
  /// behind the notice can be reached.
  function hold() {
    const held = !paused.hidden || !deviceWait.hidden;
    document.querySelector(".exam-layout").inert = held;
    document.getElementById("open-submit").disabled = held;
  }
  function showPaused(on) {
    paused.hidden = !on;
    hold();
  }
  function left() {
    if (clockState.seconds === null) return null;
    if (clockState.state === "paused") return clockState.seconds;
    return Math.max(0, clockState.seconds - Math.floor((performance.now() - clockState.at) / 1000));
  }
  function tick() {
    const s = left();
    if (s === null) return;
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = n => String(n).padStart(2, "0");
    clock.textContent = h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
    clock.toggleAttribute("data-low", s <= 300);
    for (const [minutes, key] of [[5, "warn_5"], [1, "warn_1"]]) {
      if (s <= minutes * 60 && s > 0 && !warned[minutes]) {
        warned[minutes] = true;
        warning.textContent = t(key);
        warning.hidden = false;
      }
    }
    if (s === 0 && clockState.state === "in_progress" && !submitting) submit(true);
  }
  setInterval(tick, 500);

  async function beat() {
    if (!ready) return;
    dispatchEvent(new Event("hocthi:in-use"));
    const sent = incidents;
    incidents = [];
    try {
      const reply = await call("POST", `${api}/heartbeat`, { device_id: device, incidents: sent.slice(0, 20) });
      if (reply.ok) {
        const hb = await reply.json();
        setClock(hb.remaining_seconds, hb.state);
      } else {
        incidents = sent.concat(incidents);
      }
    } catch {
      incidents = sent.concat(incidents);
      if (pending.size > 0) setSaveState("offline");
    }
  }
  setInterval(beat, heartbeatMs);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) incidents.push("tab_hidden");
    else beat();
  });
  addEventListener("blur", () => incidents.push("focus_lost"));
  for (const kind of ["copy", "paste"]) document.addEventListener(kind, () => incidents.push("copy_paste"));

  // -- coming back: the server's answers, then anything newer in the journal -----------------
  let resumedOnce = false;
  async function resume() {
    deviceWait.hidden = true;
    let entries = [];
    try {
      journal.db ??= await openJournal();
      entries = await journal.entries();
    } catch {
      // No IndexedDB here: the server's answers are all there is.
    }
    // The page came with the attempt as it stands: on the computer it runs on, that is all.
    let view;
    const embedded = document.getElementById("view");
    if (embedded && !resumedOnce) {
      const given = JSON.parse(embedded.textContent);
      if (given.device === device) view = given.view;
    }
    resumedOnce = true;
    while (!view) {
      try {
        const body = { device_id: device };
        const reply = await call("POST", `${api}/resume`, body);
        if (reply.ok) {
          view = await reply.json();
          break;
        }
        const p = await problemOf(reply);
        if (p.code === "device_switch_needs_approval") {
          deviceWait.hidden = false;
          hold();
          await waitFor(5000);
        } else if (p.code === "passkey_assertion_required") {
          body.passkey = await passkeyProof();
          const again = await call("POST", `${api}/resume`, body);
          if (again.ok) { view = await again.json(); break; }
          await waitFor(5000);
        } else {
          location.reload();
          return;
        }
      } catch {
        // Offline at load: answer from the journal and keep trying.
        setSaveState("offline");
        await waitFor(5000);
      }
    }
    deviceWait.hidden = true;
    hold();
    const server = new Map(view.answers.map(a => [a.slot, a]));
    lastSeq = Math.max(view.last_seq, ...entries.map(e => e.seq), lastSeq);
    for (const [slot, a] of server) {
      if (!pending.has(slot)) answers.set(slot, a.value);
    }
    const newest = new Map();
    for (const e of entries) {
      if (!newest.has(e.slot) || newest.get(e.slot).seq < e.seq) newest.set(e.slot, e);
    }
    for (const [slot, e] of newest) {
      const stored = server.get(slot);
      if (!stored || stored.seq < e.seq) {
        answers.set(slot, e.value);
        if (!pending.has(slot) || pending.get(slot).seq < e.seq) pending.set(slot, { seq: e.seq, value: e.value });
      }
    }
    for (const q of questions) {
      const slot = Number(q.dataset.slot);
      show(slot, answers.get(slot) ?? null);
      const box = q.querySelector(".flag-box");
      if (box) box.checked = flags.has(slot);
      markNav(slot);
    }
    setClock(view.remaining_seconds, view.state);
    ready = true;
    if (pending.size > 0) send();
    else setSaveState("saved");
  }

  // -- one question at a time, or the whole part -----------------------------------------------
  const viewKey = `hocthi.view.${attempt}`;
  const open = questions.filter(q => q.closest(".part").dataset.status === "open");
  let current = 0;
  function setCurrent(index, focus) {
    current = Math.max(0, Math.min(open.length - 1, index));
    const q = open[current];
    if (!q) return;
    open.forEach(x => x.toggleAttribute("data-current", x === q));
    document.querySelectorAll(".stimulus").forEach(s => {
      s.toggleAttribute("data-current", s.dataset.group !== "" && s.dataset.group === q.dataset.group);
    });
    links.forEach((a, slot) => {
      if (slot === Number(q.dataset.slot)) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    });
    if (focus) q.querySelector("legend")?.scrollIntoView({ block: "start" });
    if (focus && root.dataset.view === "one") q.querySelector("input, textarea")?.focus();
  }
  function setView(mode) {
    root.dataset.view = mode;
    localStorage.setItem(viewKey, mode);
    document.getElementById("view-one").setAttribute("aria-pressed", String(mode === "one"));
    document.getElementById("view-part").setAttribute("aria-pressed", String(mode === "part"));
  }
  document.getElementById("view-one").addEventListener("click", () => { setView("one"); setCurrent(current, true); });
  document.getElementById("view-part").addEventListener("click", () => setView("part"));
  for (const q of open) {
    q.querySelector(".prev").addEventListener("click", () => setCurrent(open.indexOf(q) - 1, true));
    q.querySelector(".next").addEventListener("click", () => setCurrent(open.indexOf(q) + 1, true));
    q.addEventListener("focusin", () => setCurrent(open.indexOf(q), false));
  }
  // The grid as a panel on a phone: opened from the bar, closed when a question is chosen.
  const toggle = document.getElementById("toggle-nav");
  function showNav(open) {
    root.toggleAttribute("data-nav-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  }
  toggle.addEventListener("click", () => {
    showNav(!root.hasAttribute("data-nav-open"));
    if (root.hasAttribute("data-nav-open")) document.getElementById("close-nav").focus();
  });
  document.getElementById("close-nav").addEventListener("click", () => {
    showNav(false);
    toggle.focus();
  });
  document.addEventListener("keydown", e => {
    if (e.key === "Escape" && root.hasAttribute("data-nav-open")) {
      showNav(false);
      toggle.focus();
    }
  });
  links.forEach(a => a.addEventListener("click", () => showNav(false)));
  links.forEach(a => a.addEventListener("click", e => {
    const index = open.findIndex(q => q.dataset.slot === a.dataset.slot);
    if (index < 0) { e.preventDefault(); return; }
    if (root.dataset.view === "one") {
      e.preventDefault();
      setCurrent(index, true);
    } else {
      setCurrent(index, false);
    }
  }));
  setView(localStorage.getItem(viewKey) === "one" ? "one" : "part");
  setCurrent(0, false);

  // -- forward-only parts -----------------------------------------------------------------------
  const nextSection = document.getElementById("next-section");
  nextSection?.addEventListener("click", async () => {
    if (!confirm(t("next_section_confirm"))) return;
    await flush(10000);
    const reply = await call("POST", `${api}/next-section`, { device_id: device });
    location.reload();
    return reply;
  });

  // -- submitting -------------------------------------------------------------------------------
  const dialog = document.getElementById("submit-dialog");
  const confirmButton = document.getElementById("confirm-submit");
  function summary() {
    const all = questions.map(q => Number(q.dataset.slot));
    const unanswered = all.filter(s => !isAnswered(answers.get(s)));
    const total = Number(root.dataset.total);
    document.getElementById("submit-summary").textContent =
      t("submit_summary", { answered: total - unanswered.length, total });
    // "Phần I: 4, 5, 6; Phần III: 2": by part, as the paper numbers them.
    const list = slots => {
      const byPart = new Map();
      for (const s of slots) {
        const part = partOf(s);
        byPart.set(part, [...(byPart.get(part) || []), questionOf(s).dataset.number]);
      }
      return [...byPart].map(([part, numbers]) => `${t("part_n", { n: roman(part) })}: ${numbers.join(", ")}`).join("; ");
    };
    const u = document.getElementById("submit-unanswered");
    u.textContent = unanswered.length ? t("submit_unanswered", { list: list(unanswered) }) : "";
    u.hidden = unanswered.length === 0;
    const flagged = all.filter(s => flags.has(s));
    const f = document.getElementById("submit-flagged");
    f.textContent = flagged.length ? t("submit_flagged", { list: list(flagged) }) : "";
    f.hidden = flagged.length === 0;
    document.getElementById("submit-pending").hidden = pending.size === 0;
    confirmButton.disabled = pending.size > 0;
  }
  document.getElementById("open-submit").addEventListener("click", () => {
    summary();
    dialog.showModal();
    send();
  });
  document.getElementById("cancel-submit").addEventListener("click", () => dialog.close());
  setInterval(() => { if (dialog.open) summary(); }, 1000);

  /// Waits (up to `ms`) for every journal entry to be acknowledged.
  async function flush(ms) {
    const until = Date.now() + ms;
    send();
    while (pending.size > 0 && Date.now() < until) await waitFor(300);
    return pending.size === 0;
  }

  async function submit(atDeadline) {
    submitting = true;
    confirmButton.disabled = true;
    await flush(atDeadline ? 5000 : 15000);
    try {
      const reply = await call("POST", `${api}/submit`, { device_id: device });
      if (reply.ok || (await problemOf(reply)).code === "attempt_closed") {
        location.assign(`/exam/${attempt}`);
        return;
      }
    } catch {
      // At the deadline the server's sweeper submits anyway; the page reloads to the receipt.
    }
    submitting = false;
    if (atDeadline) setTimeout(() => location.reload(), 5000);
    else summary();
  }
  confirmButton.addEventListener("click", () => submit(false));

  resume();
}
