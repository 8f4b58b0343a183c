//! Live dashboard streams held open by this instance: at most `PER_USER` for one person and
//! `PER_INSTANCE` in all, so a stream, which is exempt from admission (it would hold a place for
//! hours), cannot be opened without bound (docs/SECURITY.md, finding 8). A `Place` is given back
//! when its stream ends.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

/// A proctor with the room open on a few screens; more is a script.
pub const PER_USER: usize = 4;
/// A province's rooms of 24 at 150,000 candidates are 6,250 dashboards, spread over instances.
pub const PER_INSTANCE: usize = 10_000;

#[derive(Default)]
pub struct Streams {
    open: Mutex<HashMap<Uuid, usize>>,
}

/// One open stream; dropping it gives the place back.
pub struct Place {
    streams: Arc<Streams>,
    user: Uuid,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().expect("not poisoned");
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

impl Streams {
    /// A place for `user`'s new stream, or `None` when they or the instance hold the most.
    pub fn open(self: &Arc<Self>, user: Uuid) -> Option<Place> {
        let mut open = self.open.lock().expect("not poisoned");
        let total: usize = open.values().sum();
        let mine = open.get(&user).copied().unwrap_or(0);
        if mine >= PER_USER || total >= PER_INSTANCE {
            return None;
        }
        open.insert(user, mine + 1);
        Some(Place {
            streams: self.clone(),
            user,
        })
    }

    pub fn open_count(&self) -> usize {
        self.open.lock().expect("not poisoned").values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_user_and_come_back() {
        let streams = Arc::new(Streams::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let held: Vec<Place> = (0..PER_USER).map(|_| streams.open(a).unwrap()).collect();
        assert!(streams.open(a).is_none(), "a fifth stream for one person");
        let other = streams.open(b).expect("another person is not held back");
        assert_eq!(streams.open_count(), PER_USER + 1);
        drop(held);
        drop(other);
        assert_eq!(streams.open_count(), 0);
        assert!(streams.open(a).is_some(), "places come back");
    }
}
