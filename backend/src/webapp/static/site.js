// Keeps a signed-in page's session alive while someone uses it: the access cookie is renewed
// (POST /session/renew, which also rotates the refresh cookie) once half its life has passed,
// if the reader did something since the last renewal. An idle page lets the session lapse.
const body = document.body;

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
      const reply = await fetch("/session/renew", { method: "POST", credentials: "same-origin" });
      if (reply.ok) {
        renewedAt = Date.now();
        used = false;
      } else if (reply.status === 401) {
        location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
      }
    } catch {
      // Offline: tried again at the next tick.
    }
  }, 20000);
}
