//! Whether the toolchains the runtimes need are there, and preparing them when they are
//! not: `serve` and `worker` start preparing a missing toolchain in the background at
//! start-up (with its steps in the log), and until it is ready the exercises on that
//! runtime are unavailable: the API lists them as such and refuses their submissions
//! with 503 and the reason, rather than queueing work no worker here can do.
//!
//! The state machine is independent of what a toolchain is: a [`Toolchain`] says
//! whether it is ready and prepares itself. Today one runtime has one: `hardhat`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gauntlet_grader::runtimes::hardhat::Hardhat;

/// How long a client should wait before retrying while a toolchain is being prepared.
pub const RETRY_WHILE_PREPARING: Duration = Duration::from_secs(30);
/// How long when it is missing or broken: an operator has to act.
pub const RETRY_WHILE_MISSING: Duration = Duration::from_secs(300);
/// A failed preparation is tried again at most this often (on the next need).
const RETRY_PREPARATION_AFTER: Duration = Duration::from_secs(600);

/// A toolchain a runtime needs.
pub trait Toolchain: Send + Sync + 'static {
    /// The runtime it belongs to (`hardhat`).
    fn runtime(&self) -> &'static str;
    /// `Ok` when a grade can use it now; else why not, in words an operator acts on.
    fn ready(&self) -> Result<(), String>;
    /// Installs it (blocking, minutes); `progress` hears each step as it starts.
    fn prepare(&self, progress: &mut dyn FnMut(&str)) -> Result<(), String>;
}

impl Toolchain for Hardhat {
    fn runtime(&self) -> &'static str {
        "hardhat"
    }
    fn ready(&self) -> Result<(), String> {
        Hardhat::ready(self).map(|_| ()).map_err(|e| e.to_string())
    }
    fn prepare(&self, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
        self.toolchain()
            .prepare(progress)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Why an exercise cannot be graded now, and when to ask again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub reason: String,
    pub retry_after: Duration,
}

#[derive(Debug, Clone)]
enum State {
    /// Not looked at since the last change: ask the toolchain.
    Unknown,
    Preparing {
        step: String,
    },
    Failed {
        reason: String,
        at: Instant,
    },
}

struct Entry {
    toolchain: Arc<dyn Toolchain>,
    state: Mutex<State>,
}

/// The toolchains of this process's runtimes and what each is doing.
pub struct Toolchains {
    entries: Vec<Arc<Entry>>,
    /// Whether a missing toolchain is prepared here (`--prepare-toolchains`).
    auto_prepare: bool,
}

impl Toolchains {
    pub fn new(toolchains: Vec<Arc<dyn Toolchain>>, auto_prepare: bool) -> Arc<Self> {
        Arc::new(Toolchains {
            entries: toolchains
                .into_iter()
                .map(|toolchain| {
                    Arc::new(Entry {
                        toolchain,
                        state: Mutex::new(State::Unknown),
                    })
                })
                .collect(),
            auto_prepare,
        })
    }

    /// Starts preparing, in the background, each toolchain of `runtimes` that is not
    /// ready (when this process prepares toolchains at all).
    pub fn ensure<'a>(&self, runtimes: impl IntoIterator<Item = &'a str>) {
        let wanted: Vec<&str> = runtimes.into_iter().collect();
        for e in &self.entries {
            if wanted.contains(&e.toolchain.runtime()) {
                self.check(e);
            }
        }
    }

    /// Why exercises on `runtime` cannot be graded now; `None` when they can (or the
    /// runtime needs no toolchain). A toolchain found missing starts preparing here.
    pub fn unavailable(&self, runtime: &str) -> Option<Unavailable> {
        let e = self
            .entries
            .iter()
            .find(|e| e.toolchain.runtime() == runtime)?;
        self.check(e)
    }

    fn check(&self, e: &Arc<Entry>) -> Option<Unavailable> {
        let mut state = e.state.lock().unwrap_or_else(|p| p.into_inner());
        let runtime = e.toolchain.runtime();
        match &*state {
            State::Preparing { step } => {
                return Some(Unavailable {
                    reason: format!(
                        "the {runtime} toolchain is being prepared ({step}): retry in a minute"
                    ),
                    retry_after: RETRY_WHILE_PREPARING,
                })
            }
            State::Failed { reason, at } if at.elapsed() < RETRY_PREPARATION_AFTER => {
                // Prepared by hand meanwhile (`gauntlet toolchains prepare`)?
                if e.toolchain.ready().is_ok() {
                    *state = State::Unknown;
                    return None;
                }
                return Some(Unavailable {
                    reason: reason.clone(),
                    retry_after: RETRY_WHILE_MISSING,
                });
            }
            State::Unknown | State::Failed { .. } => {}
        }
        let why = match e.toolchain.ready() {
            Ok(()) => return None,
            Err(why) => why,
        };
        if !self.auto_prepare {
            let reason = format!(
                "the {runtime} toolchain is not ready: {why} (this server does not prepare \
                 toolchains: --prepare-toolchains=false)"
            );
            *state = State::Failed {
                reason: reason.clone(),
                at: Instant::now(),
            };
            return Some(Unavailable {
                reason,
                retry_after: RETRY_WHILE_MISSING,
            });
        }
        *state = State::Preparing {
            step: "starting".into(),
        };
        drop(state);
        start_preparing(e.clone(), why);
        Some(Unavailable {
            reason: format!("the {runtime} toolchain is being prepared: retry in a minute"),
            retry_after: RETRY_WHILE_PREPARING,
        })
    }
}

/// Prepares `e`'s toolchain on a thread of its own, logging each step.
fn start_preparing(e: Arc<Entry>, why: String) {
    let runtime = e.toolchain.runtime();
    tracing::warn!(
        runtime,
        reason = %why,
        "a toolchain is not ready: preparing it now; its exercises are unavailable until then"
    );
    let spawned = std::thread::Builder::new()
        .name(format!("prepare-{runtime}"))
        .spawn({
            let e = e.clone();
            move || {
                let started = Instant::now();
                let mut n = 0;
                let mut progress = |step: &str| {
                    n += 1;
                    tracing::info!(runtime, step = n, "preparing the toolchain: {step}");
                    *e.state.lock().unwrap_or_else(|p| p.into_inner()) = State::Preparing {
                        step: format!("step {n}: {step}"),
                    };
                };
                let result = e.toolchain.prepare(&mut progress).and_then(|()| {
                    // Prepared, but maybe where the jail's user cannot reach it.
                    e.toolchain.ready()
                });
                let mut state = e.state.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(()) => {
                        tracing::info!(
                            runtime,
                            seconds = started.elapsed().as_secs(),
                            "toolchain ready: its exercises are available"
                        );
                        *state = State::Unknown;
                    }
                    Err(reason) => {
                        tracing::error!(runtime, %reason, "preparing the toolchain failed");
                        *state = State::Failed {
                            reason: format!(
                                "preparing the {runtime} toolchain failed: {reason} (run \
                                 `gauntlet toolchains prepare` to see why; the server tries \
                                 again in {} minutes)",
                                RETRY_PREPARATION_AFTER.as_secs() / 60
                            ),
                            at: Instant::now(),
                        };
                    }
                }
            }
        });
    if let Err(err) = spawned {
        *e.state.lock().unwrap_or_else(|p| p.into_inner()) = State::Failed {
            reason: format!("could not start preparing the {runtime} toolchain: {err}"),
            at: Instant::now(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;

    /// A toolchain whose preparation waits for the test's word, then succeeds or fails.
    struct Fake {
        ready: AtomicBool,
        go: Mutex<mpsc::Receiver<Result<(), String>>>,
        started: Mutex<mpsc::Sender<()>>,
    }

    impl Toolchain for Fake {
        fn runtime(&self) -> &'static str {
            "hardhat"
        }
        fn ready(&self) -> Result<(), String> {
            if self.ready.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("not prepared".into())
            }
        }
        fn prepare(&self, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
            progress("npm ci");
            let _ = self.started.lock().unwrap().send(());
            let outcome = self.go.lock().unwrap().recv().unwrap();
            if outcome.is_ok() {
                self.ready.store(true, Ordering::SeqCst);
            }
            outcome
        }
    }

    fn fake(
        ready: bool,
    ) -> (
        Arc<Fake>,
        mpsc::Sender<Result<(), String>>,
        mpsc::Receiver<()>,
    ) {
        let (go_tx, go_rx) = mpsc::channel();
        let (started_tx, started_rx) = mpsc::channel();
        let f = Arc::new(Fake {
            ready: AtomicBool::new(ready),
            go: Mutex::new(go_rx),
            started: Mutex::new(started_tx),
        });
        (f, go_tx, started_rx)
    }

    /// Polls until `f` holds, with a deadline (no sleep as synchronisation).
    fn eventually(f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "condition not reached in 10 s");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_ready_toolchain_and_other_runtimes_are_available() {
        let (f, _, _) = fake(true);
        let t = Toolchains::new(vec![f], true);
        assert_eq!(t.unavailable("hardhat"), None);
        assert_eq!(t.unavailable("python"), None);
    }

    #[test]
    fn a_missing_toolchain_is_prepared_and_unavailable_until_then() {
        let (f, go, started) = fake(false);
        let t = Toolchains::new(vec![f.clone()], true);
        t.ensure(["hardhat"]);
        started.recv().unwrap();
        let u = t
            .unavailable("hardhat")
            .expect("unavailable while preparing");
        assert_eq!(u.retry_after, RETRY_WHILE_PREPARING);
        assert!(
            u.reason.contains("being prepared (step 1: npm ci)"),
            "{u:?}"
        );
        go.send(Ok(())).unwrap();
        eventually(|| t.unavailable("hardhat").is_none());
    }

    #[test]
    fn a_failed_preparation_says_why_until_it_is_prepared_by_hand() {
        let (f, go, started) = fake(false);
        let t = Toolchains::new(vec![f.clone()], true);
        assert!(
            t.unavailable("hardhat").is_some(),
            "the first need starts it"
        );
        started.recv().unwrap();
        go.send(Err(
            "npm ci: exit status 1: ENOTFOUND registry.npmjs.org".into()
        ))
        .unwrap();
        eventually(|| {
            t.unavailable("hardhat")
                .is_some_and(|u| u.retry_after == RETRY_WHILE_MISSING)
        });
        let u = t.unavailable("hardhat").unwrap();
        assert!(
            u.reason.contains("ENOTFOUND") && u.reason.contains("gauntlet toolchains prepare"),
            "{u:?}"
        );
        // The operator prepares it by hand: available at once.
        f.ready.store(true, Ordering::SeqCst);
        assert_eq!(t.unavailable("hardhat"), None);
    }

    #[test]
    fn without_auto_prepare_a_missing_toolchain_is_unavailable_with_the_command() {
        let (f, _, started) = fake(false);
        let t = Toolchains::new(vec![f.clone()], false);
        t.ensure(["hardhat"]);
        let u = t.unavailable("hardhat").unwrap();
        assert!(
            u.reason.contains("not prepared") && u.reason.contains("--prepare-toolchains=false"),
            "{u:?}"
        );
        assert!(started.try_recv().is_err(), "nothing was prepared");
        f.ready.store(true, Ordering::SeqCst);
        assert_eq!(t.unavailable("hardhat"), None);
    }
}
