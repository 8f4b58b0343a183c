// Keeps a signed-in page's session alive while someone uses it: the access cookie is renewed
// (POST /session/renew, which also rotates the refresh cookie) once half its life has passed,
// if the reader did something since the last renewal. An idle page lets the session lapse.
//
// Every renewal of every page goes through `hocthiSession.renew` (the page's own scripts call
// it on a 401): one at a time across tabs, and none again within 10 s of the last, because a
// refresh cookie spent twice ends the whole session, as a stolen one would.
const body = document.body;

async function renewOnce() {
  const last = Number(localStorage.getItem("hocthi.renewedAt") || 0);
  if (Date.now() - last < 10000) return true;
  const reply = await fetch("/session/renew", { method: "POST", credentials: "same-origin" });
  if (reply.ok) localStorage.setItem("hocthi.renewedAt", String(Date.now()));
  return reply.ok;
}

window.hocthiSession = {
  /// Renews the session; false when it cannot be (signed out, revoked, expired).
  renew() {
    return navigator.locks ? navigator.locks.request("hocthi-session", renewOnce) : renewOnce();
  },
};

if (body.dataset.signedIn) {
  const lifetime = Number(body.dataset.sessionSeconds || 900) * 1000;
  let renewedAt = Date.now();
  let used = false;
  for (const kind of ["keydown", "pointerdown", "input"]) {
    addEventListener(kind, () => { used = true; }, { passive: true, capture: true });
  }
  // The test page counts as in use while it runs, even when the candidate only reads.
  addEventListener("hocthi:in-use", () => { used = true; });
  setInterval(async () => {
    if (!used || Date.now() - renewedAt < lifetime / 2) return;
    try {
      if (await window.hocthiSession.renew()) {
        renewedAt = Date.now();
        used = false;
      } else {
        location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
      }
    } catch {
      // Offline: tried again at the next tick.
    }
  }, 20000);
}
