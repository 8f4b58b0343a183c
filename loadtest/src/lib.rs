//! What the load generators share: latency percentiles and the one-line report.
use std::time::Duration;

pub mod api;
pub mod province;

/// The value at percentile `p` (nearest rank) of an ascending list; NaN for an empty one.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints count, rate and latency percentiles (milliseconds) of one kind of request.
pub fn report(name: &str, mut ms: Vec<f64>, elapsed: Duration, refused: usize) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: {} ok in {:.1} s = {:.0}/s; p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; refused (503) {refused}",
        ms.len(),
        elapsed.as_secs_f64(),
        ms.len() as f64 / elapsed.as_secs_f64(),
        percentile(&ms, 50.0),
        percentile(&ms, 95.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(0.0)
    );
}
