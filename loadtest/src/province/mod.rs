//! A whole-province sitting played against a running HọcThi: setup through the API, the
//! traffic through goose, an audit of the database, and the report.
pub mod audit;
pub mod plan;
pub mod record;
pub mod report;
pub mod setup;
pub mod traffic;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// CPU time and resident memory of the service's processes (and, by name, of PostgreSQL's and
/// Redis's), read from /proc.
pub struct Watch {
    targets: Vec<(String, Vec<u32>)>,
    cpu_before: Vec<f64>,
    series: Arc<Mutex<Vec<MemorySeries>>>,
    sampler: tokio::task::JoinHandle<()>,
}

/// (seconds since the start, resident MiB, CPU seconds used so far) of one watched process group.
type MemorySeries = Vec<(f64, f64, f64)>;

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

fn stat(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cpu = (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / TICKS;
    let rss_pages: f64 = fields.get(21)?.parse().ok()?;
    Some((cpu, rss_pages * 4096.0 / 1_048_576.0))
}

fn pids_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .collect()
}

fn sum(pids: &[u32]) -> (f64, f64) {
    pids.iter()
        .filter_map(|p| stat(*p))
        .fold((0.0, 0.0), |(c, m), (cpu, mb)| (c + cpu, m + mb))
}

impl Watch {
    /// `pids`: the service's instances, each on its own; `names`: process names summed (e.g.
    /// "postgres", "redis-server").
    pub fn start(pids: &[u32], names: &[String], t0: Instant) -> Self {
        let mut targets: Vec<(String, Vec<u32>)> = pids
            .iter()
            .map(|p| {
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                (comm.trim().to_owned(), vec![*p])
            })
            .collect();
        for n in names {
            targets.push((n.clone(), pids_named(n)));
        }
        // The generator shares the machine: its own cost is part of the picture.
        targets.push(("loadtest (this generator)".into(), vec![std::process::id()]));
        let cpu_before = targets.iter().map(|(_, p)| sum(p).0).collect();
        let series = Arc::new(Mutex::new(vec![Vec::new(); targets.len()]));
        let (s, t) = (series.clone(), targets.clone());
        let sampler = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let at = t0.elapsed().as_secs_f64();
                let mut all = s.lock().expect("series");
                for (i, (_, pids)) in t.iter().enumerate() {
                    let (cpu, rss) = sum(pids);
                    all[i].push((at, rss, cpu));
                }
            }
        });
        Self {
            targets,
            cpu_before,
            series,
            sampler,
        }
    }

    pub fn finish(self) -> Vec<report::Process> {
        self.sampler.abort();
        let series = self.series.lock().expect("series").clone();
        self.targets
            .iter()
            .zip(self.cpu_before)
            .zip(series)
            .map(|(((name, pids), before), rss)| {
                let mb = |s: Option<&(f64, f64, f64)>| s.map(|x| x.1).unwrap_or(0.0);
                report::Process {
                    pid: pids.first().copied().unwrap_or(0),
                    name: if pids.len() > 1 {
                        format!("{name} x{}", pids.len())
                    } else {
                        name.clone()
                    },
                    cpu_seconds: (sum(pids).0 - before).max(0.0),
                    rss_mb_start: mb(rss.first()),
                    rss_mb_max: rss.iter().map(|s| s.1).fold(0.0, f64::max),
                    rss_mb_end: mb(rss.last()),
                    rss_series: rss.iter().map(|s| (s.0, s.1)).collect(),
                    cpu_series: rss.iter().map(|s| (s.0, s.2)).collect(),
                }
            })
            .collect()
    }
}
