//! The traffic model of one sitting, and how it is compressed in time.
//!
//! A real sitting of `real_length` (default 50 minutes) for M candidates: sign-ins spread over
//! the 15 minutes before the start, every start within 60 s, every answer saved as it changes
//! (22 answers, about 30% of them changed later), a heartbeat every 30 s, a few crashes with a
//! resume, most submits in the last minute and the rest by the sweeper.
//!
//! Played in `duration` with compression k = real_length / duration, every interval and window
//! is divided by k. N candidates played that way make the request rates of a real sitting of
//! M = N x k candidates: heartbeats N / (30 s / k) = M / 30 s, saves N x 29 / (real_length / k)
//! = M x 29 / real_length, starts N / (60 s / k) = M / 60 s. A room's dashboard is not
//! compressed (the service snapshots it every 10 s), so each played room's proctor also polls
//! the room's status to make the snapshots of M / 24 rooms. Rates, not wall time, are what a run
//! reproduces; what it does not reproduce is the size of the tables (N attempts, not M) and the
//! number of open dashboard streams (N / 24, not M / 24).
use std::time::Duration;

/// Slots of the generated paper, by part: 12 in Part I, 4 in Part II, 6 in Part III.
pub const PARTS: [u8; 22] = [
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
];

/// How often the service sends a dashboard its room's snapshot, in seconds.
const SNAPSHOT_EVERY: f64 = 10.0;

#[derive(Clone, Debug)]
pub struct Timeline {
    /// The compression factor k.
    pub k: f64,
    /// The sitting's length as played (also the time allowed the service is told).
    pub duration: Duration,
    pub signin_window: Duration,
    pub start_window: Duration,
    pub heartbeat: Duration,
    pub deadline_window: Duration,
    pub crash_pause: Duration,
    /// How often each played room's proctor also asks for the room's status, so that the
    /// snapshots make the rate of the modelled sitting's k times as many dashboards (each a
    /// snapshot every 10 s); none when nothing is compressed.
    pub status_poll: Option<Duration>,
}

impl Timeline {
    pub fn new(duration: Duration, real_length: Duration) -> Self {
        let k = (real_length.as_secs_f64() / duration.as_secs_f64()).max(1.0);
        let scaled = |real: f64| Duration::from_secs_f64(real / k);
        Self {
            k,
            duration,
            signin_window: scaled(15.0 * 60.0).max(Duration::from_secs(2)),
            start_window: scaled(60.0),
            heartbeat: scaled(30.0),
            deadline_window: scaled(60.0),
            crash_pause: scaled(20.0),
            status_poll: (k > 1.0).then(|| Duration::from_secs_f64(SNAPSHOT_EVERY / (k - 1.0))),
        }
    }
}

/// What one candidate does, in order, as offsets from the run's start.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Save {
        slot: i32,
        value: serde_json::Value,
    },
    Heartbeat,
    /// The browser dies: nothing is sent for a while, then the attempt is resumed.
    Crash,
    Submit,
}

#[derive(Clone, Debug)]
pub struct CandidatePlan {
    pub sign_in_at: Duration,
    pub start_at: Duration,
    pub passkey: bool,
    /// Offsets from `start_at`, ascending.
    pub steps: Vec<(Duration, Step)>,
}

/// A small deterministic generator (xorshift64*), so a run's plan depends only on its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// A valid answer for a slot's part, varied by the generator.
pub fn answer(part: u8, rng: &mut Rng) -> serde_json::Value {
    match part {
        1 => ["A", "B", "C", "D"][rng.below(4)].into(),
        2 => (0..4)
            .map(|_| if rng.unit() < 0.5 { "Đ" } else { "S" })
            .collect::<String>()
            .into(),
        _ => ["1,5", "-2", "0,25", "12", "3,14", "-0,5"][rng.below(6)].into(),
    }
}

pub struct Mix {
    pub passkey_share: f64,
    pub change_share: f64,
    pub crash_share: f64,
    pub submit_share: f64,
}

pub fn candidate(index: usize, seed: u64, t: &Timeline, mix: &Mix) -> CandidatePlan {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x1000_0000_01B3));
    let d = t.duration.as_secs_f64();
    let at = |f: f64| Duration::from_secs_f64(f);
    let sign_in_at = at(rng.unit() * t.signin_window.as_secs_f64());
    let start_at = t.signin_window + at(rng.unit() * t.start_window.as_secs_f64());
    let passkey = rng.unit() < mix.passkey_share;

    // The last moment a candidate acts before the deadline: the deadline window's start for
    // those who submit at the end, and a little before the deadline for the rest.
    let window = t.deadline_window.as_secs_f64().min(d * 0.2);
    let mut steps = Vec::new();
    for (slot, part) in PARTS.iter().enumerate() {
        let first = (0.02 + rng.unit() * 0.6) * d;
        steps.push((
            at(first),
            Step::Save {
                slot: slot as i32,
                value: answer(*part, &mut rng),
            },
        ));
        if rng.unit() < mix.change_share {
            let later = first + rng.unit() * (d - window - first).max(0.0);
            steps.push((
                at(later),
                Step::Save {
                    slot: slot as i32,
                    value: answer(*part, &mut rng),
                },
            ));
        }
    }
    let mut beat = t.heartbeat.as_secs_f64();
    while beat < d - window {
        steps.push((at(beat), Step::Heartbeat));
        beat += t.heartbeat.as_secs_f64();
    }
    if rng.unit() < mix.crash_share {
        steps.push((at((0.2 + rng.unit() * 0.5) * d), Step::Crash));
    }
    if rng.unit() < mix.submit_share {
        steps.push((at(d - window + rng.unit() * window * 0.9), Step::Submit));
    }
    steps.sort_by_key(|a| a.0);
    CandidatePlan {
        sign_in_at,
        start_at,
        passkey,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_keeps_the_rates_of_the_modelled_sitting() {
        let t = Timeline::new(Duration::from_secs(300), Duration::from_secs(3000));
        assert_eq!(t.k, 10.0);
        assert_eq!(t.heartbeat, Duration::from_secs(3));
        assert_eq!(t.start_window, Duration::from_secs(6));
        assert_eq!(t.signin_window, Duration::from_secs(90));
        // 1 snapshot per 10 s from the stream, 9 more from polling: 10 rooms' worth per room.
        assert_eq!(t.status_poll, Some(Duration::from_secs_f64(10.0 / 9.0)));
        let real = Timeline::new(Duration::from_secs(3000), Duration::from_secs(3000));
        assert_eq!(real.status_poll, None);
    }

    #[test]
    fn a_plan_answers_every_slot_and_ends_before_the_deadline() {
        let t = Timeline::new(Duration::from_secs(60), Duration::from_secs(3000));
        let mix = Mix {
            passkey_share: 0.5,
            change_share: 0.3,
            crash_share: 1.0,
            submit_share: 1.0,
        };
        let p = candidate(7, 42, &t, &mix);
        let saved: std::collections::BTreeSet<i32> = p
            .steps
            .iter()
            .filter_map(|(_, s)| match s {
                Step::Save { slot, .. } => Some(*slot),
                _ => None,
            })
            .collect();
        assert_eq!(saved.len(), PARTS.len());
        assert!(p.steps.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(p.steps.last().map(|s| &s.1), Some(&Step::Submit));
        assert!(p.steps.last().unwrap().0 < t.duration);
        assert!(p.steps.iter().any(|(_, s)| *s == Step::Crash));
        assert!(p.start_at >= t.signin_window && p.start_at < t.signin_window + t.start_window);
    }
}
