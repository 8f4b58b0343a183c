//! The run's report: `report.json`, `report.md` and `latency.svg` (p99 latency and throughput
//! per second for each request type, and the server's memory).
use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use serde::Serialize;
use serde_json::{Value, json};

use super::{
    audit::Findings,
    record::{Kind, Sample},
};
use crate::percentile;

#[derive(Debug, Serialize)]
pub struct Figures {
    pub count: usize,
    pub ok: usize,
    /// Every answer that was not a 2xx (refusals included).
    pub errors: usize,
    /// Of the errors: 429 and 503, which carry Retry-After and are retried.
    pub refused: usize,
    /// Of the errors: no answer at all (connection refused or reset).
    pub transport_errors: usize,
    /// Every non-2xx answer by HTTP status (0 for no answer), so a run names its errors.
    pub error_statuses: BTreeMap<u16, usize>,
    pub error_rate: f64,
    /// Acknowledged requests per second over the whole traffic phase.
    pub rps: f64,
    /// The busiest second's acknowledged requests.
    pub peak_rps: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn figures(samples: &[Sample], seconds: f64) -> BTreeMap<&'static str, Figures> {
    let mut out = BTreeMap::new();
    for kind in Kind::ALL {
        let mine: Vec<&Sample> = samples.iter().filter(|s| s.kind == kind).collect();
        if mine.is_empty() {
            continue;
        }
        let mut ms: Vec<f64> = mine
            .iter()
            .filter(|s| s.ok())
            .map(|s| f64::from(s.micros) / 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let mut per_second: BTreeMap<u32, usize> = BTreeMap::new();
        for s in mine.iter().filter(|s| s.ok()) {
            *per_second.entry(s.at_ms / 1000).or_default() += 1;
        }
        let mut error_statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for s in mine.iter().filter(|s| !s.ok()) {
            *error_statuses.entry(s.status).or_default() += 1;
        }
        let errors = error_statuses.values().sum();
        out.insert(
            kind.name(),
            Figures {
                count: mine.len(),
                ok: ms.len(),
                errors,
                refused: mine.iter().filter(|s| s.refused()).count(),
                transport_errors: error_statuses.get(&0).copied().unwrap_or(0),
                error_statuses,
                error_rate: errors as f64 / mine.len() as f64,
                rps: ms.len() as f64 / seconds.max(1e-9),
                peak_rps: per_second.values().copied().max().unwrap_or(0),
                p50_ms: round(percentile(&ms, 50.0)),
                p95_ms: round(percentile(&ms, 95.0)),
                p99_ms: round(percentile(&ms, 99.0)),
                max_ms: round(ms.last().copied().unwrap_or(f64::NAN)),
            },
        );
    }
    out
}

/// The window over which a run's sustained useful throughput is read.
const SUSTAINED_SECONDS: usize = 30;

/// Acknowledged saves and heartbeats per second, the work an overload must not crowd out: over
/// the whole traffic phase, and over its busiest `SUSTAINED_SECONDS` in a row. The first
/// includes the sign-in wave, the start spike and the stragglers' tail, whose length depends on
/// the load's shape; the second is what the service sustained while it was busiest, the figure
/// an overload run compares with the peak.
pub fn useful_throughput(samples: &[Sample], traffic_seconds: f64) -> Value {
    let mut per_second: BTreeMap<u32, usize> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.ok() && matches!(s.kind, Kind::Save | Kind::Heartbeat))
    {
        *per_second.entry(s.at_ms / 1000).or_default() += 1;
    }
    let last = per_second.keys().next_back().map_or(0, |s| *s as usize);
    let series: Vec<usize> = (0..=last)
        .map(|s| per_second.get(&(s as u32)).copied().unwrap_or(0))
        .collect();
    let total: usize = series.iter().sum();
    let window = SUSTAINED_SECONDS.min(series.len()).max(1);
    let busiest = series
        .windows(window)
        .map(|w| w.iter().sum::<usize>())
        .max()
        .unwrap_or(0);
    json!({
        "whole_phase_rps": round(total as f64 / traffic_seconds.max(1e-9)),
        "busiest_30s_rps": round(busiest as f64 / window as f64),
    })
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A watched process: CPU seconds used during the traffic and its resident memory over time.
#[derive(Debug, Serialize)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    pub cpu_seconds: f64,
    pub rss_mb_start: f64,
    pub rss_mb_max: f64,
    pub rss_mb_end: f64,
    #[serde(skip)]
    pub rss_series: Vec<(f64, f64)>,
    /// (seconds since the start, CPU seconds used so far), sampled every second.
    #[serde(skip)]
    pub cpu_series: Vec<(f64, f64)>,
}

/// CPU seconds of the watched service and stores (everything but the generator), or None when
/// none was watched.
fn server_cpu_seconds(processes: &[Process]) -> Option<f64> {
    let server: Vec<f64> = processes
        .iter()
        .filter(|p| !p.name.starts_with("loadtest"))
        .map(|p| p.cpu_seconds)
        .collect();
    (!server.is_empty()).then(|| server.iter().sum())
}

/// The targets of issue 7 for saves, heartbeats, starts and submits.
pub fn targets(requests: &BTreeMap<&'static str, Figures>, findings: &Findings) -> Value {
    let p99 = |k: &str| requests.get(k).map(|f| f.p99_ms).unwrap_or(0.0);
    let (count, errors) = requests
        .values()
        .fold((0, 0), |(c, e), f| (c + f.count, e + f.errors));
    let error_rate = errors as f64 / count.max(1) as f64;
    json!({
        "save_p99_under_100ms": p99("save") < 100.0,
        "heartbeat_p99_under_100ms": p99("heartbeat") < 100.0,
        "start_p99_under_500ms": p99("start") < 500.0,
        "submit_p99_under_500ms": p99("submit") < 500.0,
        "errors_under_0.1%": error_rate < 0.001,
        "error_rate": error_rate,
        "zero_lost_answers": findings.lost_answers == 0 && findings.missing_on_resume == 0,
        "every_attempt_submitted_once_and_graded": findings.unsubmitted_attempts == 0
            && findings.submitted_more_than_once == 0 && findings.ungraded_attempts == 0,
    })
}

pub fn write(
    dir: &Path,
    run: Value,
    samples: &[Sample],
    traffic_seconds: f64,
    findings: &Findings,
    processes: &[Process],
) -> anyhow::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let requests = figures(samples, traffic_seconds);
    let targets = targets(&requests, findings);
    let report = json!({
        "run": run,
        "requests": requests,
        "lost_answers": findings.lost_answers + findings.missing_on_resume as usize,
        "unsubmitted_attempts": findings.unsubmitted_attempts,
        "server_cpu_seconds": server_cpu_seconds(processes),
        "useful_throughput": useful_throughput(samples, traffic_seconds),
        "processes": processes,
        "audit": findings,
        "targets": targets,
    });
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(dir.join("report.md"), markdown(&report))?;
    std::fs::write(dir.join("latency.svg"), chart(samples, processes))?;
    std::fs::write(dir.join("timeline.csv"), timeline(samples, processes))?;
    Ok(report)
}

/// One request type's requests sent in one second: acknowledged, refused, and the latencies (ms)
/// of the acknowledged.
#[derive(Clone, Default)]
struct Second {
    ok: usize,
    refused: usize,
    ms: Vec<f64>,
}

/// One row per second of the run: per request type the acknowledged count, the refusals and
/// the p99 (ms) of what was sent in that second, and the CPU cores each watched process used.
/// What the chart shows, as numbers, for comparing runs second by second.
fn timeline(samples: &[Sample], processes: &[Process]) -> String {
    let seconds = samples.iter().map(|s| s.at_ms / 1000).max().unwrap_or(0) as usize + 1;
    let mut out = String::from("second");
    for kind in Kind::ALL {
        let n = kind.name();
        let _ = write!(out, ",{n}_ok,{n}_refused,{n}_p99_ms");
    }
    for p in processes {
        let _ = write!(out, ",cpu_{}", p.name.replace([' ', ','], "_"));
    }
    out.push('\n');
    let mut cells: Vec<BTreeMap<Kind, Second>> = vec![BTreeMap::new(); seconds];
    for s in samples {
        let cell = cells[(s.at_ms / 1000) as usize].entry(s.kind).or_default();
        if s.ok() {
            cell.ok += 1;
            cell.ms.push(f64::from(s.micros) / 1000.0);
        } else if s.refused() {
            cell.refused += 1;
        }
    }
    for (second, row) in cells.iter_mut().enumerate() {
        let _ = write!(out, "{second}");
        for kind in Kind::ALL {
            match row.get_mut(&kind) {
                Some(Second { ok, refused, ms }) => {
                    ms.sort_by(f64::total_cmp);
                    let p99 = if ms.is_empty() {
                        0.0
                    } else {
                        round(percentile(ms, 99.0))
                    };
                    let _ = write!(out, ",{ok},{refused},{p99}");
                }
                None => out.push_str(",0,0,0"),
            }
        }
        for p in processes {
            // CPU seconds used between this second's sample and the next: cores busy.
            let at = |t: f64| {
                p.cpu_series
                    .iter()
                    .find(|(s, _)| *s >= t)
                    .or(p.cpu_series.last())
                    .map_or(0.0, |x| x.1)
            };
            let t = second as f64;
            let _ = write!(out, ",{:.2}", (at(t + 1.0) - at(t)).max(0.0));
        }
        out.push('\n');
    }
    out
}

fn markdown(r: &Value) -> String {
    let mut md = String::new();
    let run = &r["run"];
    let _ = writeln!(
        md,
        "# Load test: {} candidates played, the traffic of {} (compression {}x)\n",
        run["candidates"], run["modelled_candidates"], run["compression"]
    );
    let _ = writeln!(
        md,
        "Base URL `{}`, sitting of {} s as played, traffic phase {} s, started {}.\n",
        run["base_url"].as_str().unwrap_or_default(),
        run["sitting_seconds"],
        run["traffic_seconds"],
        run["started_at"].as_str().unwrap_or_default()
    );
    md.push_str("| request | count | errors | refused (429/503) | rps | peak rps | p50 ms | p95 ms | p99 ms | max ms |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    if let Some(requests) = r["requests"].as_object() {
        for (name, f) in requests {
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
                f["count"],
                f["errors"],
                f["refused"],
                f["rps"].as_f64().unwrap_or(0.0),
                f["peak_rps"],
                f["p50_ms"],
                f["p95_ms"],
                f["p99_ms"],
                f["max_ms"]
            );
        }
    }
    let a = &r["audit"];
    let _ = writeln!(
        md,
        "\n**Audit**: {} attempts; {} acknowledged saves, {} answers checked against the database; \
         **lost answers: {}**; **unsubmitted attempts: {}**; submitted more than once: {}; ungraded: {}; \
         submitted by candidates {}, by the sweeper {}; client failures: {}.\n",
        a["attempts"],
        a["acknowledged_saves"],
        a["answers_checked"],
        r["lost_answers"],
        r["unsubmitted_attempts"],
        a["submitted_more_than_once"],
        a["ungraded_attempts"],
        a["submitted_by_candidates"],
        a["submitted_by_sweeper"],
        a["client_failures"]
    );
    let useful = &r["useful_throughput"];
    let _ = writeln!(
        md,
        "Useful throughput (acknowledged saves and heartbeats): {} a second over the traffic \
         phase, {} over its busiest 30 s.\n",
        useful["whole_phase_rps"], useful["busiest_30s_rps"]
    );
    let _ = match r["server_cpu_seconds"].as_f64() {
        Some(cpu) => writeln!(md, "Server CPU (service and stores): {cpu:.1} s."),
        None => writeln!(md, "Server CPU: not watched (pass --server-pid)."),
    };
    if let Some(ps) = r["processes"].as_array() {
        for p in ps {
            let _ = writeln!(
                md,
                "- {} (pid {}): {:.1} CPU s, memory {:.0} → max {:.0} → {:.0} MB",
                p["name"].as_str().unwrap_or_default(),
                p["pid"],
                p["cpu_seconds"].as_f64().unwrap_or(0.0),
                p["rss_mb_start"].as_f64().unwrap_or(0.0),
                p["rss_mb_max"].as_f64().unwrap_or(0.0),
                p["rss_mb_end"].as_f64().unwrap_or(0.0)
            );
        }
    }
    let _ = writeln!(
        md,
        "\nTargets: `{}`\n\n![latency over time](latency.svg)",
        r["targets"]
    );
    md
}

const COLOURS: [&str; 11] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#000000",
];

/// Three panels over the run's seconds: p99 latency (log scale), acknowledged requests per
/// second, and the watched processes' memory.
fn chart(samples: &[Sample], processes: &[Process]) -> String {
    let (w, panel, left, top) = (1000.0, 220.0, 70.0, 30.0);
    let seconds = samples.iter().map(|s| s.at_ms / 1000).max().unwrap_or(0) as f64 + 1.0;
    let x = |t: f64| left + (w - left - 20.0) * (t / seconds).min(1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        top + 3.0 * (panel + 40.0) + 40.0
    );
    let mut per_kind: BTreeMap<Kind, BTreeMap<u32, Vec<f64>>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.ok()) {
        per_kind
            .entry(s.kind)
            .or_default()
            .entry(s.at_ms / 1000)
            .or_default()
            .push(f64::from(s.micros) / 1000.0);
    }
    let max_rps = per_kind
        .values()
        .flat_map(|m| m.values().map(Vec::len))
        .max()
        .unwrap_or(1) as f64;
    let panels = [
        ("p99 latency per second (ms, log scale)", top),
        ("acknowledged requests per second", top + panel + 40.0),
        ("resident memory (MB)", top + 2.0 * (panel + 40.0)),
    ];
    for (title, y0) in panels {
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{title}</text>\n<rect x=\"{left}\" y=\"{y0}\" width=\"{}\" height=\"{panel}\" fill=\"none\" stroke=\"#999\"/>",
            y0 - 6.0,
            w - left - 20.0
        );
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{}\">0 s</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{seconds:.0} s</text>",
            y0 + panel + 14.0,
            w - 20.0,
            y0 + panel + 14.0
        );
    }
    // Latency: log10 from 0.1 ms to 10 s.
    let ly = |ms: f64| top + panel - panel * ((ms.max(0.1).log10() + 1.0) / 5.0).clamp(0.0, 1.0);
    for (label, ms) in [("1", 1.0), ("10", 10.0), ("100", 100.0), ("1000", 1000.0)] {
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{y:.1}\" text-anchor=\"end\">{label}</text>",
            w - 20.0,
            left - 4.0,
            y = ly(ms)
        );
    }
    let ry = |n: f64| top + 2.0 * panel + 40.0 - panel * n / max_rps;
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max_rps:.0}</text>",
        left - 4.0,
        top + panel + 40.0 + 10.0
    );
    for (i, (kind, seconds_map)) in per_kind.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut latency = String::new();
        let mut rate = String::new();
        for (second, values) in seconds_map {
            let mut v = values.clone();
            v.sort_by(f64::total_cmp);
            let t = f64::from(*second) + 0.5;
            let _ = write!(latency, "{:.1},{:.1} ", x(t), ly(percentile(&v, 99.0)));
            let _ = write!(rate, "{:.1},{:.1} ", x(t), ry(v.len() as f64));
        }
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" points=\"{latency}\"/>\n<polyline fill=\"none\" stroke=\"{colour}\" points=\"{rate}\"/>\n<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            w - 150.0,
            top + 14.0 + 13.0 * i as f64,
            kind.name()
        );
    }
    let y0 = top + 2.0 * (panel + 40.0);
    let max_mb = processes
        .iter()
        .flat_map(|p| p.rss_series.iter().map(|s| s.1))
        .fold(1.0, f64::max);
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max_mb:.0}</text>",
        left - 4.0,
        y0 + 10.0
    );
    for (i, p) in processes.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: String = p
            .rss_series
            .iter()
            .map(|(t, mb)| format!("{:.1},{:.1} ", x(*t), y0 + panel - panel * mb / max_mb))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" points=\"{points}\"/><text x=\"{}\" y=\"{}\" fill=\"{colour}\">{} ({})</text>",
            w - 260.0,
            y0 + 14.0 + 13.0 * i as f64,
            p.name,
            p.pid
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: u16) -> Sample {
        Sample {
            kind: Kind::Save,
            at_ms: 0,
            micros: 1000,
            status,
        }
    }

    #[test]
    fn errors_are_counted_by_status() {
        let samples: Vec<Sample> = [200, 204, 429, 503, 503, 500, 0]
            .into_iter()
            .map(sample)
            .collect();
        let save = &figures(&samples, 1.0)["save"];
        assert_eq!((save.count, save.ok, save.errors), (7, 2, 5));
        assert_eq!((save.refused, save.transport_errors), (3, 1));
        let statuses: Vec<(u16, usize)> =
            save.error_statuses.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(statuses, [(0, 1), (429, 1), (500, 1), (503, 2)]);
    }

    #[test]
    fn useful_throughput_counts_acknowledged_saves_and_heartbeats_in_the_busiest_window() {
        let at = |kind, second: u32, status| Sample {
            kind,
            at_ms: second * 1000 + 500,
            micros: 1000,
            status,
        };
        // 10 a second for 40 s, 40 a second in seconds 50-79, then a tail of 1 a second.
        let mut samples = Vec::new();
        for second in 0..100u32 {
            let n = match second {
                0..40 => 10,
                50..80 => 40,
                _ => 1,
            };
            for i in 0..n {
                let kind = if i % 2 == 0 {
                    Kind::Save
                } else {
                    Kind::Heartbeat
                };
                samples.push(at(kind, second, 200));
            }
            // Neither refusals nor other kinds of request are useful work here.
            samples.push(at(Kind::Save, second, 503));
            samples.push(at(Kind::Start, second, 200));
        }
        let useful = useful_throughput(&samples, 100.0);
        assert_eq!(useful["busiest_30s_rps"], 40.0);
        assert_eq!(useful["whole_phase_rps"], (400.0 + 1200.0 + 30.0) / 100.0);
    }
}
