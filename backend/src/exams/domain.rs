//! The exam engine's rules as pure functions: the attempt's clock folded from its events, answer
//! values checked per item type, paper codes spread over a room, essay marks reconciled.
//! Over 700 lines: about 150 of them are its tests (the clock's and the marks' properties).
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    error::ApiError,
    exam_format::{Choice, Points, ShortAnswer},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExamKind {
    /// A proctored exam: one attempt, rooms, a timetable.
    Exam,
    /// Practice tests and homework: no proctor, an open window, several attempts, key shown after.
    Practice,
}

impl ExamKind {
    /// A stored kind. Text that is neither is an error, never taken for one of them.
    pub fn parse(text: &str) -> Result<ExamKind, ApiError> {
        match text {
            "exam" => Ok(ExamKind::Exam),
            "practice" => Ok(ExamKind::Practice),
            other => Err(ApiError::Unexpected(anyhow::anyhow!(
                "an exam of an unknown kind: {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExamScope {
    Province,
    School,
    Class,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Navigation {
    /// Any question at any time.
    Free,
    /// One part after the other; a finished part cannot be reopened.
    ForwardOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultRelease {
    /// As soon as the attempt is graded.
    Immediate,
    /// When the exam's owner releases them.
    Manual,
}

/// What an exam promises its candidates, fixed when it is created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    pub release: ResultRelease,
    /// Show the answer key with the result (practice tests).
    #[serde(default)]
    pub show_key: bool,
    /// Essays marked by two graders; a third marks when they differ by more than the margin.
    #[serde(default)]
    pub double_marking: bool,
    #[serde(default = "default_margin")]
    #[schema(value_type = String, example = "0.5")]
    pub marking_margin: Points,
    /// Days photos taken at check-in or during the exam are kept.
    #[serde(default = "default_photo_days")]
    pub photo_retention_days: u32,
    /// What proves the candidate is who sits the test, before starting and on every resume.
    #[serde(default)]
    pub identity: IdentityCheck,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// Being signed in is enough (practice).
    None,
    /// A proctor checks the candidate in (manually or with the ID card).
    #[default]
    CheckIn,
    /// A fresh passkey assertion, bound to the attempt and device.
    Passkey,
    /// Both.
    PasskeyAndCheckIn,
}

impl IdentityCheck {
    pub fn needs_check_in(self) -> bool {
        matches!(
            self,
            IdentityCheck::CheckIn | IdentityCheck::PasskeyAndCheckIn
        )
    }

    pub fn needs_passkey(self) -> bool {
        matches!(
            self,
            IdentityCheck::Passkey | IdentityCheck::PasskeyAndCheckIn
        )
    }
}

fn default_margin() -> Points {
    Points::hundredths(50)
}

fn default_photo_days() -> u32 {
    30
}

impl Policy {
    pub fn for_kind(kind: ExamKind) -> Self {
        match kind {
            ExamKind::Exam => Policy {
                release: ResultRelease::Manual,
                show_key: false,
                double_marking: false,
                marking_margin: default_margin(),
                photo_retention_days: default_photo_days(),
                identity: IdentityCheck::CheckIn,
            },
            ExamKind::Practice => Policy {
                release: ResultRelease::Immediate,
                show_key: true,
                double_marking: false,
                marking_margin: default_margin(),
                photo_retention_days: default_photo_days(),
                identity: IdentityCheck::None,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    NotStarted,
    InProgress,
    Paused,
    Submitted,
    AutoSubmitted,
    Voided,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::NotStarted => "not_started",
            AttemptState::InProgress => "in_progress",
            AttemptState::Paused => "paused",
            AttemptState::Submitted => "submitted",
            AttemptState::AutoSubmitted => "auto_submitted",
            AttemptState::Voided => "voided",
        }
    }

    /// A stored state. Text that is none of them (a row written by something else) is an
    /// error, never taken for "not started".
    pub fn parse(text: &str) -> Result<AttemptState, ApiError> {
        Ok(match text {
            "not_started" => AttemptState::NotStarted,
            "in_progress" => AttemptState::InProgress,
            "paused" => AttemptState::Paused,
            "submitted" => AttemptState::Submitted,
            "auto_submitted" => AttemptState::AutoSubmitted,
            "voided" => AttemptState::Voided,
            other => {
                return Err(ApiError::Unexpected(anyhow::anyhow!(
                    "an attempt in an unknown state: {other:?}"
                )));
            }
        })
    }

    pub fn is_closed(self) -> bool {
        matches!(
            self,
            AttemptState::Submitted | AttemptState::AutoSubmitted | AttemptState::Voided
        )
    }
}

/// What happened to an attempt. Stored one row per event, hash-chained per attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Started,
    Paused,
    Continued,
    /// Time added by a proctor, with a reason.
    TimeAdded,
    /// Time given back for a server-side outage.
    OutageCredit,
    SectionAdvanced,
    DeviceSwitchRequested,
    DeviceSwitchApproved,
    AdmittedLate,
    Submitted,
    AutoSubmitted,
    Voided,
    Regraded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Paused => "paused",
            EventKind::Continued => "continued",
            EventKind::TimeAdded => "time_added",
            EventKind::OutageCredit => "outage_credit",
            EventKind::SectionAdvanced => "section_advanced",
            EventKind::DeviceSwitchRequested => "device_switch_requested",
            EventKind::DeviceSwitchApproved => "device_switch_approved",
            EventKind::AdmittedLate => "admitted_late",
            EventKind::Submitted => "submitted",
            EventKind::AutoSubmitted => "auto_submitted",
            EventKind::Voided => "voided",
            EventKind::Regraded => "regraded",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        [
            EventKind::Started,
            EventKind::Paused,
            EventKind::Continued,
            EventKind::TimeAdded,
            EventKind::OutageCredit,
            EventKind::SectionAdvanced,
            EventKind::DeviceSwitchRequested,
            EventKind::DeviceSwitchApproved,
            EventKind::AdmittedLate,
            EventKind::Submitted,
            EventKind::AutoSubmitted,
            EventKind::Voided,
            EventKind::Regraded,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The part of an event the clock cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub seconds: i32,
}

/// The attempt's clock at one moment, as the events say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub started_at: Option<DateTime<Utc>>,
    /// None before the start and while paused (time is frozen then).
    pub deadline: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    /// Seconds left: frozen while paused, counting down otherwise.
    pub remaining_seconds: i64,
}

/// Folds an attempt's events into its clock. `allowed` is the sitting's time plus the
/// candidate's accommodation. Pauses do not count; added time and outage credits extend.
pub fn clock(allowed: Duration, events: &[Tick], now: DateTime<Utc>) -> Clock {
    let mut started_at = None;
    let mut paused_at = None;
    let mut paused_total = Duration::zero();
    let mut credits = Duration::zero();
    for event in events {
        match event.kind {
            EventKind::Started if started_at.is_none() => started_at = Some(event.at),
            EventKind::Paused if paused_at.is_none() => paused_at = Some(event.at),
            EventKind::Continued => {
                if let Some(from) = paused_at.take() {
                    paused_total += event.at - from;
                }
            }
            EventKind::TimeAdded | EventKind::OutageCredit => {
                credits += Duration::seconds(i64::from(event.seconds))
            }
            _ => {}
        }
    }
    let Some(start) = started_at else {
        return Clock {
            started_at: None,
            deadline: None,
            paused_at: None,
            remaining_seconds: (allowed + credits).num_seconds(),
        };
    };
    let running_deadline = start + allowed + credits + paused_total;
    match paused_at {
        Some(p) => Clock {
            started_at,
            deadline: None,
            paused_at,
            remaining_seconds: (running_deadline - p).num_seconds().max(0),
        },
        None => Clock {
            started_at,
            deadline: Some(running_deadline),
            paused_at: None,
            remaining_seconds: (running_deadline - now).num_seconds().max(0),
        },
    }
}

/// An answer as the candidate sends it, checked against the part its slot is in, and turned
/// into the one stored form: Part I "B", Part II "ĐS_Đ" (`_` blank), Part III "-1,5", an essay
/// its text; `None` clears the answer.
pub fn check_answer(part: u8, value: &serde_json::Value) -> Result<Option<String>, &'static str> {
    use serde_json::Value;
    if value.is_null() {
        return Ok(None);
    }
    match part {
        1 => value
            .as_str()
            .and_then(Choice::parse)
            .map(|c| Some(c.letter().to_string()))
            .ok_or("answer_not_a_choice"),
        2 => {
            let marks: Vec<Value> = match value {
                Value::Array(list) => list.clone(),
                Value::String(text) => text
                    .chars()
                    .map(|c| match c {
                        '_' => Value::Null,
                        other => Value::String(other.to_string()),
                    })
                    .collect(),
                _ => return Err("answer_not_true_false"),
            };
            if marks.len() != 4 {
                return Err("answer_not_true_false");
            }
            let mut text = String::new();
            for mark in marks {
                let letter = match &mark {
                    Value::Null => '_',
                    Value::Bool(true) => 'Đ',
                    Value::Bool(false) => 'S',
                    Value::String(s) => match s.trim() {
                        "Đ" | "đ" | "D" | "d" | "T" | "t" => 'Đ',
                        "S" | "s" | "F" | "f" => 'S',
                        "" | "_" => '_',
                        _ => return Err("answer_not_true_false"),
                    },
                    _ => return Err("answer_not_true_false"),
                };
                text.push(letter);
            }
            Ok(Some(text))
        }
        3 => {
            let raw = value.as_str().ok_or("short_answer_invalid")?;
            if raw.trim().is_empty() {
                return Ok(None);
            }
            ShortAnswer::parse(raw).map(|a| Some(a.as_str().to_owned()))
        }
        _ => {
            let text = value.as_str().ok_or("essay_not_text")?;
            if text.chars().count() > MAX_ESSAY_CHARS {
                return Err("essay_too_long");
            }
            Ok(Some(text.to_owned()))
        }
    }
}

pub const MAX_ESSAY_CHARS: usize = 30_000;

/// Part II's stored form back to marks a-d.
pub fn true_false_marks(stored: &str) -> [Option<bool>; 4] {
    let mut marks = [None; 4];
    for (i, c) in stored.chars().take(4).enumerate() {
        marks[i] = match c {
            'Đ' => Some(true),
            'S' => Some(false),
            _ => None,
        };
    }
    marks
}

/// Gives each seat a code: round robin through the codes in a per-room rotation, so every code
/// is used about equally in a room and two neighbouring seats never share one (with 2+ codes).
pub fn assign_codes(codes: &[String], room_index: usize, seats: usize) -> Vec<String> {
    if codes.is_empty() {
        return Vec::new();
    }
    (0..seats)
        .map(|seat| codes[(seat + room_index) % codes.len()].clone())
        .collect()
}

/// The essay's final mark from its graders. One mark stands alone; two within the margin are
/// averaged (rounded half up to 0.05: every official value is a multiple of 0.05); two apart
/// by more need a third, whose mark is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EssayOutcome {
    Final(Points),
    NeedsRound(i32),
}

pub fn reconcile(marks: &[Points], double: bool, margin: Points) -> EssayOutcome {
    match (double, marks) {
        (_, []) => EssayOutcome::NeedsRound(1),
        (false, [first, ..]) => EssayOutcome::Final(*first),
        (true, [_]) => EssayOutcome::NeedsRound(2),
        (true, [a, b]) => {
            let (a, b) = (a.as_hundredths(), b.as_hundredths());
            if a.abs_diff(b) > margin.as_hundredths() {
                EssayOutcome::NeedsRound(3)
            } else {
                // Half-up to a multiple of 5 hundredths, computed in tenths of hundredths.
                let mean_x10 = (a + b) * 5;
                let rounded = (mean_x10 + 25) / 50 * 5;
                EssayOutcome::Final(Points::hundredths(rounded))
            }
        }
        (true, [_, _, third, ..]) => EssayOutcome::Final(*third),
    }
}

/// Summary figures for a list of scores in hundredths.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub median: f64,
    pub standard_deviation: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summary(scores: &[u32]) -> Summary {
    let count = scores.len();
    if count == 0 {
        return Summary {
            count,
            mean: 0.0,
            median: 0.0,
            standard_deviation: 0.0,
            min: 0.0,
            max: 0.0,
        };
    }
    let mut sorted: Vec<f64> = scores.iter().map(|s| f64::from(*s) / 100.0).collect();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / count as f64;
    let median = if count % 2 == 1 {
        sorted[count / 2]
    } else {
        (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
    };
    // Population standard deviation: every candidate of the group is counted.
    let variance = sorted.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / count as f64;
    Summary {
        count,
        mean: round2(mean),
        median: round2(median),
        standard_deviation: round2(variance.sqrt()),
        min: sorted[0],
        max: sorted[count - 1],
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Width of one bar of the score distribution (phổ điểm), in hundredths.
pub const BIN_WIDTH: u32 = 25;

/// How many scores fall in each 0.25-wide bin from 0 to 10; a 10 counts in the last bin.
pub fn distribution(scores: &[u32]) -> Vec<u32> {
    let bins = (1000 / BIN_WIDTH) as usize;
    let mut counts = vec![0u32; bins];
    for s in scores {
        let i = ((*s / BIN_WIDTH) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
}

/// Classical item analysis for one item: `marks` is each candidate's fraction of the item's
/// points (0..=1) next to their total score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, ToSchema)]
pub struct ItemFigures {
    pub responses: usize,
    /// Mean fraction of the points earned (the p-value).
    pub facility: f64,
    /// Facility in the top 27% by total minus facility in the bottom 27%.
    pub discrimination: f64,
    /// Correlation between the item's mark and the total score.
    pub point_biserial: f64,
}

pub fn item_figures(marks: &[(f64, f64)]) -> ItemFigures {
    let n = marks.len();
    if n == 0 {
        return ItemFigures {
            responses: 0,
            facility: 0.0,
            discrimination: 0.0,
            point_biserial: 0.0,
        };
    }
    let facility = marks.iter().map(|m| m.0).sum::<f64>() / n as f64;
    let mut by_total = marks.to_vec();
    by_total.sort_by(|a, b| b.1.total_cmp(&a.1));
    let group = ((n as f64 * 0.27).round() as usize).max(1);
    let mean = |list: &[(f64, f64)]| list.iter().map(|m| m.0).sum::<f64>() / list.len() as f64;
    let discrimination = mean(&by_total[..group]) - mean(&by_total[n - group..]);
    let mean_total = marks.iter().map(|m| m.1).sum::<f64>() / n as f64;
    let (mut cov, mut var_item, mut var_total) = (0.0, 0.0, 0.0);
    for (item, total) in marks {
        cov += (item - facility) * (total - mean_total);
        var_item += (item - facility).powi(2);
        var_total += (total - mean_total).powi(2);
    }
    let point_biserial = if var_item > 0.0 && var_total > 0.0 {
        cov / (var_item.sqrt() * var_total.sqrt())
    } else {
        0.0
    };
    ItemFigures {
        responses: n,
        facility: round3(facility),
        discrimination: round3(discrimination),
        point_biserial: round3(point_biserial),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Client-reported incidents the proctor sees.
pub const INCIDENTS: &[&str] = &[
    "focus_lost",
    "tab_hidden",
    "fullscreen_exited",
    "copy_paste",
    "network_lost",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attempt_state_reads_back_and_unknown_text_is_an_error() {
        for state in [
            AttemptState::NotStarted,
            AttemptState::InProgress,
            AttemptState::Paused,
            AttemptState::Submitted,
            AttemptState::AutoSubmitted,
            AttemptState::Voided,
        ] {
            assert_eq!(AttemptState::parse(state.as_str()).ok(), Some(state));
        }
        for text in ["", "started", "Submitted", "not started"] {
            assert!(
                AttemptState::parse(text).is_err(),
                "{text:?} is not taken for a state"
            );
        }
        for kind in [ExamKind::Exam, ExamKind::Practice] {
            let stored = serde_json::to_value(kind).expect("a kind serialises");
            let text = stored.as_str().expect("as text");
            assert_eq!(ExamKind::parse(text).ok(), Some(kind));
        }
        assert!(ExamKind::parse("homework").is_err());
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap() + Duration::minutes(minute)
    }

    fn tick(minute: i64, kind: EventKind, seconds: i32) -> Tick {
        Tick {
            at: at(minute),
            kind,
            seconds,
        }
    }

    #[test]
    fn the_deadline_is_start_plus_time_plus_pauses_plus_credits() {
        let allowed = Duration::minutes(50);
        let events = [
            tick(0, EventKind::Started, 0),
            tick(10, EventKind::Paused, 0),
            tick(17, EventKind::Continued, 0),
            tick(20, EventKind::TimeAdded, 300),
            tick(21, EventKind::OutageCredit, 60),
        ];
        let c = clock(allowed, &events, at(30));
        assert_eq!(c.deadline, Some(at(50 + 7 + 5 + 1)));
        assert_eq!(c.remaining_seconds, 33 * 60);
    }

    #[test]
    fn a_pause_freezes_the_remaining_time() {
        let allowed = Duration::minutes(50);
        let events = [
            tick(0, EventKind::Started, 0),
            tick(10, EventKind::Paused, 0),
        ];
        let early = clock(allowed, &events, at(11));
        let late = clock(allowed, &events, at(45));
        assert_eq!(early.deadline, None);
        assert_eq!(early.remaining_seconds, 40 * 60);
        assert_eq!(late.remaining_seconds, 40 * 60);
    }

    #[test]
    fn answers_are_checked_by_part() {
        use serde_json::json;
        assert_eq!(check_answer(1, &json!("b")), Ok(Some("B".into())));
        assert_eq!(check_answer(1, &json!("E")), Err("answer_not_a_choice"));
        assert_eq!(
            check_answer(2, &json!([true, "S", null, "Đ"])),
            Ok(Some("ĐS_Đ".into()))
        );
        assert_eq!(
            check_answer(2, &json!([true])),
            Err("answer_not_true_false")
        );
        assert_eq!(check_answer(3, &json!("-1.5")), Ok(Some("-1,5".into())));
        assert_eq!(
            check_answer(3, &json!("12345")),
            Err("short_answer_too_long")
        );
        assert_eq!(check_answer(3, &json!(5)), Err("short_answer_invalid"));
        assert_eq!(check_answer(4, &json!(null)), Ok(None));
        assert_eq!(
            true_false_marks("ĐS_Đ"),
            [Some(true), Some(false), None, Some(true)]
        );
    }

    #[test]
    fn codes_are_balanced_and_neighbours_differ() {
        let codes: Vec<String> = ["0101", "0102", "0103", "0104"].map(String::from).into();
        let seats = assign_codes(&codes, 1, 24);
        for pair in seats.windows(2) {
            assert_ne!(pair[0], pair[1]);
        }
        for code in &codes {
            assert_eq!(seats.iter().filter(|s| *s == code).count(), 6);
        }
    }

    #[test]
    fn essay_marks_reconcile_by_the_margin() {
        let p = Points::hundredths;
        assert_eq!(
            reconcile(&[p(600)], false, p(50)),
            EssayOutcome::Final(p(600))
        );
        assert_eq!(
            reconcile(&[p(600)], true, p(50)),
            EssayOutcome::NeedsRound(2)
        );
        assert_eq!(
            reconcile(&[p(600), p(625)], true, p(50)),
            EssayOutcome::Final(p(615))
        );
        assert_eq!(
            reconcile(&[p(500), p(600)], true, p(50)),
            EssayOutcome::NeedsRound(3)
        );
        assert_eq!(
            reconcile(&[p(500), p(600), p(575)], true, p(50)),
            EssayOutcome::Final(p(575))
        );
    }

    #[test]
    fn summary_and_distribution() {
        let s = summary(&[500, 700, 900, 1000]);
        assert_eq!(s.mean, 7.75);
        assert_eq!(s.median, 8.0);
        assert_eq!(s.standard_deviation, 1.92);
        let d = distribution(&[0, 24, 25, 1000, 990]);
        assert_eq!(d.len(), 40);
        assert_eq!((d[0], d[1], d[39]), (2, 1, 2));
    }

    #[test]
    fn a_discriminating_item_has_positive_figures() {
        let marks = [
            (1.0, 9.0),
            (1.0, 8.0),
            (1.0, 7.0),
            (0.0, 4.0),
            (0.0, 3.0),
            (0.0, 2.0),
        ];
        let f = item_figures(&marks);
        assert_eq!(f.facility, 0.5);
        assert_eq!(f.discrimination, 1.0);
        assert!(f.point_biserial > 0.9);
    }
}

/// The receipt a candidate notes after submitting: eight characters derived from the attempt
/// and every answer it holds, so the same answers always give the same code and any change
/// gives another ("K7M2-PQ4X"; no 0/O or 1/I to misread).
pub fn receipt_code<'a>(
    attempt: uuid::Uuid,
    answers: impl IntoIterator<Item = (i32, Option<&'a str>)>,
) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut hash = Sha256::new();
    hash.update(b"hocthi-receipt\n");
    hash.update(attempt.as_bytes());
    for (slot, value) in answers {
        if let Some(value) = value {
            hash.update(format!("\n{slot}\t{value}").as_bytes());
        }
    }
    let digest = hash.finalize();
    let bits = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
    let code: String = (0..8)
        .map(|i| ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize] as char)
        .collect();
    format!("{}-{}", &code[..4], &code[4..])
}

#[cfg(test)]
mod receipt_tests {
    use super::receipt_code;

    #[test]
    fn a_receipt_changes_with_any_answer_and_only_then() {
        let id = uuid::Uuid::nil();
        let a = receipt_code(id, [(0, Some("B")), (12, Some("ĐS_Đ")), (16, Some("-1,5"))]);
        let same = receipt_code(
            id,
            [
                (0, Some("B")),
                (3, None),
                (12, Some("ĐS_Đ")),
                (16, Some("-1,5")),
            ],
        );
        let other = receipt_code(id, [(0, Some("C")), (12, Some("ĐS_Đ")), (16, Some("-1,5"))]);
        let moved = receipt_code(id, [(1, Some("B")), (12, Some("ĐS_Đ")), (16, Some("-1,5"))]);
        assert_eq!(a, same, "a cleared answer is no answer");
        assert_ne!(a, other);
        assert_ne!(a, moved);
        assert_eq!(a.len(), 9);
        assert!(
            a.chars()
                .all(|c| c == '-' || "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".contains(c))
        );
        assert_ne!(
            receipt_code(uuid::Uuid::max(), [(0, Some("B"))]),
            receipt_code(id, [(0, Some("B"))])
        );
    }
}
