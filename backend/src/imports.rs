//! Reading an uploaded file a teacher imports (question banks, rosters, candidate lists) costs
//! CPU and memory out of proportion to its size: a small zip inflates, a short XML builds a large
//! tree. So every import is parsed off the HTTP workers, a few at a time behind a bounded queue,
//! and within one budget per request: bytes inflated, XML nodes built, and time.
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// What one import may spend. Each limit answers with its own stable code.
#[derive(Debug)]
pub struct Budget {
    bytes_left: u64,
    nodes_left: u64,
    deadline: Instant,
}

/// Inflated bytes over all the parts of one file (a Word bank with its images fits easily).
pub const MAX_INFLATED: u64 = 100 * 1024 * 1024;
/// XML elements and text nodes over all the parts of one file: a 300-question .docx builds
/// about 150,000; each costs ~150 bytes of tree.
pub const MAX_NODES: u64 = 600_000;
/// Wall time for reading one file.
pub const MAX_TIME: Duration = Duration::from_secs(20);

/// The budget is over: the file asks for more than one import may spend.
pub const TOO_LARGE: &str = "archive_too_large";
pub const TOO_COMPLEX: &str = "import_too_complex";
pub const TIMED_OUT: &str = "import_timed_out";

impl Budget {
    pub fn for_import() -> Self {
        Self::new(MAX_INFLATED, MAX_NODES, MAX_TIME)
    }

    pub fn new(bytes: u64, nodes: u64, time: Duration) -> Self {
        Self {
            bytes_left: bytes,
            nodes_left: nodes,
            deadline: Instant::now() + time,
        }
    }

    /// How many more bytes may be inflated; a reader takes one more to tell "over".
    pub fn bytes_left(&self) -> u64 {
        self.bytes_left
    }

    pub fn spend_bytes(&mut self, bytes: u64) -> Result<(), &'static str> {
        self.bytes_left = self.bytes_left.checked_sub(bytes).ok_or(TOO_LARGE)?;
        self.check_time()
    }

    /// One node of a parsed tree; the clock is read once every 4,096 nodes.
    pub fn spend_node(&mut self) -> Result<(), &'static str> {
        self.nodes_left = self.nodes_left.checked_sub(1).ok_or(TOO_COMPLEX)?;
        if self.nodes_left.is_multiple_of(4096) {
            self.check_time()?;
        }
        Ok(())
    }

    pub fn check_time(&self) -> Result<(), &'static str> {
        if Instant::now() > self.deadline {
            return Err(TIMED_OUT);
        }
        Ok(())
    }
}

/// Whether a parser's code says the budget is spent (the whole import ends, not one item).
pub fn is_budget(code: &str) -> bool {
    matches!(code, TOO_LARGE | TOO_COMPLEX | TIMED_OUT)
}

/// The answer to a file a parser refused: too many bytes 413, not the kind announced 415,
/// anything else (too complex, too slow, unreadable, malformed) 422 on the `file` field.
pub fn refusal(code: &'static str) -> ApiError {
    match code {
        TOO_LARGE => ApiError::Quota(TOO_LARGE),
        "payload_too_large" => ApiError::PayloadTooLarge,
        "unsupported_media_type" => ApiError::UnsupportedMediaType,
        code => ApiError::field("file", code),
    }
}

/// Imports in progress on this instance: `workers` parse at once on blocking threads, up to
/// `waiting` more wait their turn, and the next is refused with 503 and a time to retry.
pub struct ImportQueue {
    running: Arc<Semaphore>,
    admitted: AtomicUsize,
    capacity: usize,
}

/// Decrements the admitted count however the request ends (done, failed or dropped).
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ImportQueue {
    /// Half the cores parse (at least one), so exams keep the rest; eight more may wait.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores / 2, 8)
    }

    pub fn new(workers: usize, waiting: usize) -> Self {
        let workers = workers.max(1);
        Self {
            running: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            capacity: workers + waiting,
        }
    }

    /// Runs `parse` on a blocking thread within a fresh import budget; a code it refuses the
    /// file with is answered by `refusal`. The permit is held by the thread, so a parse that
    /// outlives its caller (a dropped request) still counts as running.
    pub async fn run<T, F>(&self, parse: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Budget) -> Result<T, &'static str> + Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::TooManyRequests {
                code: "import_queue_full",
                retry_after_secs: 10,
            });
        }
        let _admitted = Admitted(&self.admitted);
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Unexpected(e.into()))?;
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            parse(&mut Budget::for_import())
        });
        // The budget's deadline stops the parsers; this bound covers a library that does not
        // look at it (the spreadsheet reader), answering the caller while the thread finishes.
        match tokio::time::timeout(MAX_TIME + Duration::from_secs(5), work).await {
            Ok(Ok(parsed)) => parsed.map_err(refusal),
            // A parser's panic on a malformed file (the fuzzer found one in the spreadsheet
            // library) is that file's fault, not the service's: it is refused, and logged.
            Ok(Err(e)) if e.is_panic() => {
                tracing::error!(error = %e, "an import's parser panicked");
                Err(ApiError::field("file", "unreadable_file"))
            }
            Ok(Err(e)) => Err(ApiError::Unexpected(e.into())),
            Err(_) => Err(ApiError::field("file", TIMED_OUT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_budget_refuses_with_its_own_code() {
        let mut budget = Budget::new(10, 2, Duration::from_secs(60));
        assert_eq!(budget.spend_bytes(10), Ok(()));
        assert_eq!(budget.spend_bytes(1), Err(TOO_LARGE));
        assert_eq!(budget.spend_node(), Ok(()));
        assert_eq!(budget.spend_node(), Ok(()));
        assert_eq!(budget.spend_node(), Err(TOO_COMPLEX));
        let late = Budget::new(10, 10, Duration::ZERO);
        std::thread::yield_now();
        while Instant::now() <= late.deadline {
            std::hint::spin_loop();
        }
        assert_eq!(late.check_time(), Err(TIMED_OUT));
    }

    #[tokio::test]
    async fn the_queue_refuses_beyond_its_capacity_and_frees_its_place() {
        let queue = Arc::new(ImportQueue::new(1, 1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        // The first import runs and blocks until told; the second waits for the only worker.
        let first = tokio::spawn({
            let queue = queue.clone();
            async move {
                queue
                    .run(move |_| {
                        started.send(()).unwrap();
                        hold.recv().unwrap();
                        Ok(1)
                    })
                    .await
            }
        });
        running.await.unwrap();
        let second = tokio::spawn({
            let queue = queue.clone();
            async move { queue.run(|_| Ok(2)).await }
        });
        // Wait until the second is admitted (it counts as soon as it asks for a worker).
        while queue.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let third = queue.run(|_| Ok(3)).await;
        assert!(
            matches!(
                third,
                Err(ApiError::TooManyRequests {
                    code: "import_queue_full",
                    ..
                })
            ),
            "a third import is refused while one runs and one waits"
        );
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
        assert_eq!(queue.admitted.load(Ordering::Acquire), 0);
        assert_eq!(
            queue.run(|_| Ok(4)).await.unwrap(),
            4,
            "the places are free again"
        );
    }
}
