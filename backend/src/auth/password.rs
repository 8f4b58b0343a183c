//! Argon2id password hashing on its own threads, a fixed number of them, so a sign-in wave queues
//! here instead of stalling the async workers. The threads can run below the workers' CPU
//! priority (`HOCTHI_PASSWORD_HASH_NICE`): then the exam traffic is served first when CPU is
//! short, at the price of password sign-ins that wait longer.
use std::sync::{Arc, Mutex, mpsc};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::oneshot;

use crate::error::ApiError;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

type Job = Box<dyn FnOnce() + Send>;

/// A handle on the hashing threads; they end when the last handle is dropped.
#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
}

fn argon2() -> Argon2<'static> {
    // OWASP's second recommended set: 19 MiB, two passes, one lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters"),
    )
}

/// A hash of a random password nobody knows: verifying against it costs what a real check
/// costs, so an unknown login takes as long as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    argon2()
        .hash_password(uuid::Uuid::new_v4().as_bytes())
        .expect("hashing works")
        .to_string()
});

/// Passwords people choose first, in Vietnam as elsewhere (written for this list, compared
/// without case, diacritics or spaces): long enough, and still guessed within a few tries.
const COMMON: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "87654321",
    "12341234",
    "11223344",
    "12121212",
    "123123123",
    "147258369",
    "123456aa",
    "abc12345",
    "abcd1234",
    "a1234567",
    "1q2w3e4r",
    "1qaz2wsx",
    "qwertyui",
    "qwerty123",
    "qwertyuiop",
    "asdfghjk",
    "zxcvbnm1",
    "123qweasd",
    "password",
    "password1",
    "passw0rd",
    "p@ssw0rd",
    "admin123",
    "administrator",
    "welcome1",
    "iloveyou",
    "sunshine",
    "football",
    "princess",
    "matkhau",
    "matkhau1",
    "matkhau123",
    "matkhaumoi",
    "doimatkhau",
    "anhyeuem",
    "emyeuanh",
    "yeuemnhieu",
    "hocsinh1",
    "hocsinh123",
    "giaovien",
    "giaovien1",
    "giaovien123",
    "vietnam1",
    "vietnam123",
    "hanoi123",
    "saigon123",
    "thptquocgia",
    "truonghoc",
    "hocthi123",
    "tinhyeu1",
    "baby1234",
];

pub fn check_strength(password: &str) -> Result<(), &'static str> {
    match password.chars().count() {
        n if n < MIN_LENGTH => return Err("password_too_short"),
        n if n > MAX_LENGTH => return Err("password_too_long"),
        _ => {}
    }
    let folded: String = crate::text::fold(password)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut chars = folded.chars();
    let first = chars.next();
    let one_character = chars.all(|c| Some(c) == first);
    if one_character || COMMON.contains(&folded.as_str()) {
        return Err("password_too_common");
    }
    Ok(())
}

/// Lowers the calling thread's priority by `nice` (Linux schedules threads, so this is per thread).
/// Elsewhere the hashing threads keep the default priority and only the thread count limits them.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let me = Some(rustix::thread::gettid());
        let lowered = rustix::process::getpriority_process(me)
            .and_then(|current| rustix::process::setpriority_process(me, (current + nice).min(19)));
        if let Err(e) = lowered {
            tracing::warn!(error = %e, nice, "password hashing keeps the default CPU priority");
        }
    }
}

impl Passwords {
    /// `threads` hashes run at once, each at niceness `nice` (0: the request workers' priority).
    pub fn new(threads: usize, nice: i32) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || {
                    lower_priority(nice);
                    loop {
                        // The lock is held only while waiting for the next job, never while hashing.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panic fails this job's request (its reply is dropped), not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn a password hashing thread");
        }
        Self { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The client gave up while this waited in the queue: spend nothing on it.
            if !reply.is_closed() {
                let _ = reply.send(work());
            }
        });
        self.jobs.send(job).map_err(|_| {
            ApiError::Unexpected(anyhow!("the password hashing threads have stopped"))
        })?;
        answer
            .await
            .map_err(|_| ApiError::Unexpected(anyhow!("a password hashing job failed")))
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| ApiError::Unexpected(anyhow!("argon2 hash failed: {e}")))
    }

    /// `None` for the stored hash means the account does not exist: the same work is done anyway.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            let hash = stored.as_deref().unwrap_or(DUMMY_HASH.as_str());
            argon2().verify_password(password.as_bytes(), hash).is_ok() && stored.is_some()
        })
        .await
    }

    #[cfg(test)]
    async fn hashing_thread_priority(&self) -> i32 {
        self.run(|| {
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .expect("read the thread's priority")
        })
        .await
        .expect("the job runs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_one_character_passwords_are_refused() {
        let cases = [
            (
                "12345678",
                Err("password_too_common"),
                "the most common of all",
            ),
            (
                "Mật Khẩu 123",
                Err("password_too_common"),
                "folded, it is matkhau123",
            ),
            ("aaaaaaaaaa", Err("password_too_common"), "one character"),
            ("ngắn", Err("password_too_short"), "too short"),
            ("Mật-khẩu-thử-nghiệm-2025", Ok(()), "a passphrase"),
            ("hoa sen nở giữa hồ", Ok(()), "words"),
        ];
        for (password, want, why) in cases {
            assert_eq!(check_strength(password), want, "{why}");
        }
    }

    #[tokio::test]
    async fn hashes_and_verifies_on_its_own_threads() {
        let passwords = Passwords::new(2, 10);
        let stored = passwords.hash("mật khẩu đúng".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify("mật khẩu đúng".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("mật khẩu sai".into(), Some(stored))
                .await
                .unwrap()
        );
        // An unknown account never verifies, whatever the password.
        assert!(
            !passwords
                .verify("mật khẩu đúng".into(), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_request_abandoned_in_the_queue_is_never_hashed() {
        use std::future::Future;
        use std::sync::atomic::{AtomicBool, Ordering};
        let passwords = Passwords::new(1, 0);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // The first job holds the only thread until the second has been queued and abandoned;
        // a first poll queues a job, so the queue's order is the order of these polls.
        let (open_gate, gate) = std::sync::mpsc::channel::<()>();
        let mut busy = Box::pin(passwords.run(move || gate.recv().is_ok()));
        assert!(busy.as_mut().poll(&mut cx).is_pending());
        let ran = Arc::new(AtomicBool::new(false));
        let mut abandoned = Box::pin({
            let ran = Arc::clone(&ran);
            passwords.run(move || ran.store(true, Ordering::SeqCst))
        });
        assert!(abandoned.as_mut().poll(&mut cx).is_pending());
        drop(abandoned); // the client goes away
        open_gate.send(()).unwrap();
        assert!(busy.await.unwrap());
        // One thread runs jobs in order: once this one answers, the abandoned one is behind it.
        passwords.run(|| ()).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_below_the_request_workers_priority() {
        let worker = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let lowered = Passwords::new(1, 10).hashing_thread_priority().await;
        assert_eq!(lowered, (worker + 10).min(19));
        assert!(lowered > worker);
        let same = Passwords::new(1, 0).hashing_thread_priority().await;
        assert_eq!(same, worker);
    }
}
