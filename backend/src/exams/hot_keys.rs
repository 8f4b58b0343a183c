//! The exam engine's names in the hot store, in one place: every reader and writer of a key
//! builds it here (the store adds the instance's prefix).
use uuid::Uuid;

/// The attempt's state and deadline, as heartbeats read them (`hot_clock.rs`).
pub fn clock(attempt: Uuid) -> String {
    format!("clock:{attempt}")
}

/// The bitmap of the attempt's answered questions (`answered.rs`).
pub fn answered(attempt: Uuid) -> String {
    format!("answered:{attempt}")
}

/// The time of the attempt's last heartbeat; it expires when the attempt goes quiet.
pub fn presence(attempt: Uuid) -> String {
    format!("presence:{attempt}")
}

/// The attempt's incidents reported by its device, all kinds together.
pub fn incidents(attempt: Uuid) -> String {
    format!("incidents:{attempt}")
}

/// The attempt's incidents of one kind (tab left, window blurred, …).
pub fn incidents_of_kind(attempt: Uuid, kind: &str) -> String {
    format!("incidents:{attempt}:{kind}")
}

/// The pub/sub channel of a room's feed (`room_feed.rs`).
pub fn room_channel(room: Uuid) -> String {
    format!("room:{room}")
}

/// A paper code as candidates fetch it, rendered once for every instance.
pub fn paper(paper: Uuid, code: &str) -> String {
    format!("paper:{paper}:{code}")
}
