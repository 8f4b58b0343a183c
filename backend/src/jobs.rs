//! Every instance's background jobs, in one list, started in one place (`startup.rs`) and each
//! stopped by its own shutdown signal when the server stops. Every job is safe to run on every
//! instance at once: a job that changes shared rows takes them with `FOR UPDATE SKIP LOCKED` or
//! writes what is the same whoever writes it.
use std::{future::Future, pin::Pin, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

use crate::state::AppState;

type Round = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type Forever = Pin<Box<dyn Future<Output = ()> + Send>>;

enum Work {
    /// A round every period until shutdown; a failed round is logged and the next one retries.
    Every {
        period: Duration,
        /// The first round at once (work left by the last process), or after one period.
        at_once: bool,
        round: Box<dyn Fn() -> Round + Send + Sync>,
    },
    /// A task for the life of the process (a subscription, a queue's consumer).
    Forever(Forever),
}

pub struct Job {
    pub name: &'static str,
    work: Work,
}

impl Job {
    pub fn every<F, Fut>(name: &'static str, period: Duration, at_once: bool, round: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name,
            work: Work::Every {
                period,
                at_once,
                round: Box::new(move || Box::pin(round())),
            },
        }
    }

    pub fn forever(name: &'static str, task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            name,
            work: Work::Forever(Box::pin(task)),
        }
    }
}

/// The list. A job its settings turn off (a zero sweep interval, as tests that drive the
/// sweeper by hand set) is left out.
pub fn of(state: &AppState) -> Vec<Job> {
    let settings = &state.settings;
    let mut jobs = vec![Job::forever(
        "revocation sync",
        state.revocations.clone().sync(),
    )];
    if let Some(worker) = crate::exams::grading::worker(state.clone()) {
        jobs.push(Job::forever("grading", worker));
    }
    if !settings.sweep_interval.is_zero() {
        let sweep = with(state, |s| async move {
            crate::exams::sweeper::sweep_once(&s).await?;
            Ok(())
        });
        jobs.push(Job::every("sweeper", settings.sweep_interval, true, sweep));
        let uploads = with(state, |s| async move {
            crate::content::uploads::clean_abandoned(&s, chrono::Utc::now()).await?;
            Ok(())
        });
        jobs.push(Job::every(
            "abandoned uploads",
            JANITOR_EVERY,
            true,
            uploads,
        ));
        let photos = with(state, |s| async move {
            crate::identity::photos::clean_expired(&s, chrono::Utc::now()).await?;
            Ok(())
        });
        jobs.push(Job::every("expired photos", JANITOR_EVERY, true, photos));
    }
    let checkpoint = with(state, |s| async move {
        crate::audit::checkpoints::write(&s).await?;
        Ok(())
    });
    let every = settings.audit_checkpoint_every;
    jobs.push(Job::every("audit checkpoints", every, false, checkpoint));
    jobs
}

/// A round that works on its own copy of the application's handles.
fn with<Fut>(
    state: &AppState,
    round: fn(AppState) -> Fut,
) -> impl Fn() -> Fut + Send + Sync + 'static
where
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let state = state.clone();
    move || round(state.clone())
}

/// Uploads never completed and photos past their retention are looked for this often.
const JANITOR_EVERY: Duration = Duration::from_secs(300);

/// The running jobs.
pub struct Jobs {
    shutdown: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl Jobs {
    pub fn start(jobs: Vec<Job>) -> Self {
        let (shutdown, _) = watch::channel(false);
        let running = jobs
            .into_iter()
            .map(|job| {
                let mut stop = shutdown.subscribe();
                let name = job.name;
                // Only a stop ends a job: `Jobs` dropped without one (a test harness that keeps
                // the server alone) leaves the jobs running for the life of the runtime.
                let stopped = async move {
                    if stop.wait_for(|stopped| *stopped).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let task = async move {
                    tokio::select! {
                        () = run(job) => {}
                        () = stopped => {}
                    }
                };
                (name, tokio::spawn(task))
            })
            .collect();
        Self { shutdown, running }
    }

    #[cfg(test)]
    fn names(&self) -> Vec<&'static str> {
        self.running.iter().map(|(name, _)| *name).collect()
    }

    /// Signals every job and waits for each to end; a round in progress is dropped at its next
    /// await (its transaction rolls back; the next process's first round redoes it).
    pub async fn stop(self) {
        self.shutdown.send_replace(true);
        for (name, handle) in self.running {
            if let Err(error) = handle.await {
                tracing::warn!(job = name, %error, "a background job ended badly");
            }
        }
    }
}

async fn run(job: Job) {
    match job.work {
        Work::Forever(task) => task.await,
        Work::Every {
            period,
            at_once,
            round,
        } => {
            let first = if at_once {
                tokio::time::Instant::now()
            } else {
                tokio::time::Instant::now() + period
            };
            let mut ticker = tokio::time::interval_at(first, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = round().await {
                    tracing::warn!(job = job.name, error = ?error, "background job failed; the next round retries");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_job_runs_in_its_rounds_and_every_job_stops_on_shutdown() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let (forever_ended_tx, mut forever_ended) = tokio::sync::mpsc::channel::<()>(1);
        let jobs = Jobs::start(vec![
            Job::every("counting", Duration::from_secs(10), true, move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    anyhow::ensure!(false, "a failed round does not end the job");
                    Ok(())
                }
            }),
            Job::forever("waiting", async move {
                let _held = forever_ended_tx;
                std::future::pending::<()>().await;
            }),
        ]);
        assert_eq!(jobs.names(), ["counting", "waiting"]);
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 3, "at 0, 10 and 20 s");
        jobs.stop().await;
        assert!(
            forever_ended.recv().await.is_none(),
            "the forever job's task was dropped"
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 3, "no round after shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_dropped_without_a_stop_keep_running() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        drop(Jobs::start(vec![Job::every(
            "counting",
            Duration::from_secs(10),
            false,
            move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        )]));
        tokio::time::sleep(Duration::from_secs(35)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 3, "at 10, 20 and 30 s");
    }
}
