//! Every request's outcome and latency, kept with its time in the run for the report's figures
//! and its chart. Goose keeps its own metrics too; these are exact to the microsecond and
//! bucketed per second.
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// The request types a run reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    SignInPassword,
    PasskeyStart,
    PasskeyFinish,
    MyAttempts,
    Start,
    Paper,
    /// The test page a browser opens after the start (session cookie, gzip).
    Page,
    /// One of the page's styles and scripts, fetched once per browser (then cached).
    Asset,
    Save,
    Heartbeat,
    Resume,
    Submit,
    DashboardOpen,
    RoomStatus,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::SignInPassword,
        Kind::PasskeyStart,
        Kind::PasskeyFinish,
        Kind::MyAttempts,
        Kind::Start,
        Kind::Paper,
        Kind::Page,
        Kind::Asset,
        Kind::Save,
        Kind::Heartbeat,
        Kind::Resume,
        Kind::Submit,
        Kind::DashboardOpen,
        Kind::RoomStatus,
    ];

    /// Whether the client reads the answer (a token, a ceremony, a resumed attempt's answers).
    pub fn body_is_read(self) -> bool {
        matches!(
            self,
            Kind::SignInPassword | Kind::PasskeyStart | Kind::PasskeyFinish | Kind::Resume
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::SignInPassword => "sign_in_password",
            Kind::PasskeyStart => "sign_in_passkey_start",
            Kind::PasskeyFinish => "sign_in_passkey_finish",
            Kind::MyAttempts => "my_attempts",
            Kind::Start => "start",
            Kind::Paper => "paper",
            Kind::Page => "exam_page",
            Kind::Asset => "page_asset",
            Kind::Save => "save",
            Kind::Heartbeat => "heartbeat",
            Kind::Resume => "resume",
            Kind::Submit => "submit",
            Kind::DashboardOpen => "dashboard_open",
            Kind::RoomStatus => "room_status",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub kind: Kind,
    /// Milliseconds since the run's start when the request was sent.
    pub at_ms: u32,
    pub micros: u32,
    /// The HTTP status; 0 for a transport error (connection refused or reset, timeout).
    pub status: u16,
}

impl Sample {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// Refused with a request to come back (429, 503): the excess of an overload or an outage,
    /// which a client retries.
    pub fn refused(&self) -> bool {
        matches!(self.status, 429 | 503)
    }
}

pub struct Recorder {
    pub started: Instant,
    samples: Mutex<Vec<Sample>>,
}

impl Recorder {
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            samples: Mutex::new(Vec::with_capacity(1 << 20)),
        }
    }

    pub fn record(&self, kind: Kind, sent: Instant, status: u16) {
        let sample = Sample {
            kind,
            at_ms: sent.saturating_duration_since(self.started).as_millis() as u32,
            micros: sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
            status,
        };
        self.samples.lock().expect("recorder").push(sample);
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().expect("recorder").clone()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
