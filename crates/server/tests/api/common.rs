//! `spawn_app`: the real router on port 0 over a fresh store (SQLite in a temp dir, or a
//! fresh PostgreSQL database through the queue suite's fixture), a temp exercises folder,
//! and optionally the real worker engine with a fake executor that returns canned results.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gauntlet_exercise::{ArchiveLimits, Maxima};
use gauntlet_queue::store::Store;
use gauntlet_queue::worker::{ExecError, Job, JobContext, JobExecutor, WorkerEngine};
use gauntlet_queue::WorkerControl;
use gauntlet_server::api::{self, AppState};
use gauntlet_server::catalog::Catalog;
use gauntlet_server::settings::{Common, Settings};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore};

use crate::fixture::{self, Fixture};
pub use crate::gate::ExerciseGate;

pub const ADMIN: &str = "test-admin-token-0123456789abcdef-0123456789";
/// A value the fake executor prints; the redaction check looks for it.
pub const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Stops a job until the test lets it go.
pub struct FakeExecutor {
    pub gate: Arc<Semaphore>,
}

#[async_trait]
impl JobExecutor for FakeExecutor {
    async fn execute(&self, job: Job, ctx: JobContext) -> Result<Value, ExecError> {
        let files: BTreeMap<String, String> =
            serde_json::from_slice(&job.payload).unwrap_or_default();
        let text = files.values().cloned().collect::<Vec<_>>().join("\n");
        ctx.logs
            .line("test", &format!("grading {}", job.exercise_id));
        if text.contains("leak") {
            ctx.logs.line("test", &format!("token={ADMIN}"));
        }
        if text.contains("hold") {
            tokio::select! {
                p = self.gate.acquire() => p.expect("gate").forget(),
                _ = ctx.cancel.cancelled() => return Err(ExecError::Cancelled),
            }
        }
        let score: u32 = text
            .split_whitespace()
            .skip_while(|w| *w != "score")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(if files.is_empty() { 100 } else { 0 });
        let outcome = if score == 100 { "passed" } else { "failed" };
        ctx.logs.line("test", &format!("score {score}"));
        Ok(json!({
            "outcome": outcome, "score": score, "points": score / 50, "max_points": 2,
            "tests": [{"name": "t", "status": if score == 100 {"pass"} else {"fail"}, "message": null}],
            "log": "[test] done", "duration_ms": 1
        }))
    }
}

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    pub exercises: PathBuf,
    pub engine: Option<Arc<WorkerEngine>>,
    pub gate: Arc<Semaphore>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub fx: Fixture,
}

pub struct Opts {
    pub db: Db,
    /// Start the worker engine with the fake executor.
    pub engine: bool,
    pub tweak: Box<dyn FnOnce(&mut Settings) + Send>,
}

impl Opts {
    pub fn new(db: Db) -> Self {
        Opts {
            db,
            engine: false,
            tweak: Box::new(|_| {}),
        }
    }
    pub fn engine(mut self) -> Self {
        self.engine = true;
        self
    }
    pub fn tweak(mut self, f: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        self.tweak = Box::new(f);
        self
    }
}

pub const FILES_YAML: &str = "id: echo\ntitle: Echo\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: a.sh\n      max_bytes: 1024\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: exit-code\nscoring: all-or-nothing\n";
const ARCHIVE_YAML: &str = "id: bundle\ntitle: Bundle\nruntime: shell\nsubmission: archive\nstarter:\n  files:\n    - path: a.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: exit-code\nscoring: all-or-nothing\n";

pub fn write_package(root: &Path, folder: &str, yaml: &str) {
    let p = root.join(folder);
    for sub in ["starter", "tests", "solution"] {
        std::fs::create_dir_all(p.join(sub)).unwrap();
    }
    std::fs::write(p.join("exercise.yaml"), yaml).unwrap();
    std::fs::write(p.join("starter/a.sh"), "echo starter\n").unwrap();
    std::fs::write(p.join("solution/a.sh"), "echo ok\n").unwrap();
    std::fs::write(p.join("tests/run.sh"), "exit 0\n").unwrap();
}

/// Base settings for tests: generous limits, a strong admin token, fast timeouts.
pub fn test_settings(data_dir: &Path, exercises: &Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        common: Common {
            data_dir: data_dir.to_owned(),
            exercises: exercises.to_owned(),
            ..Common::default()
        },
        admin_token: Some(SecretString::from(ADMIN.to_owned())),
        ip_per_minute: 1000,
        ip_per_day: 1000,
        session_per_minute: 1000,
        session_per_day: 1000,
        name_per_minute: 1000,
        name_per_day: 1000,
        max_active_per_session: 100,
        max_active_per_ip: 100,
        sse_keepalive: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(2),
        ..Settings::default()
    }
}

pub async fn spawn_app(opts: Opts) -> Option<TestApp> {
    let fx = match opts.db {
        Db::Sqlite => Fixture::sqlite().await,
        Db::Postgres => Fixture::postgres().await?,
    };
    let exercises = fx.dir.path().join("exercises");
    write_package(&exercises, "echo", FILES_YAML);
    write_package(&exercises, "bundle", ARCHIVE_YAML);
    let mut settings = test_settings(&fx.dir.path().join("api-data"), &exercises);
    (opts.tweak)(&mut settings);
    Some(spawn_with(fx, settings, opts.engine).await)
}

/// Spawns an app over an existing fixture's store (several instances can share one).
pub async fn spawn_with(fx: Fixture, settings: Settings, engine: bool) -> TestApp {
    let exercises = settings.common.exercises.clone();
    let gate = Arc::new(ExerciseGate {
        scratch: settings.common.data_dir.join("scratch"),
        limits: ArchiveLimits::default(),
    });
    let catalog = {
        let exercises = exercises.clone();
        tokio::task::spawn_blocking(move || Catalog::load(&exercises, Maxima::default(), gate))
            .await
            .unwrap()
            .expect("test exercises load")
    };
    let catalog = Arc::new(catalog);
    let store: Arc<dyn Store> = fx.second_store().await;
    let release = Arc::new(Semaphore::new(0));
    let engine = if engine {
        let cfg = fixture::test_config(&fx, &[]);
        let mut cfg = cfg;
        cfg.exercise_hashes = catalog.hashes();
        let exec = Arc::new(gauntlet_server::metrics::Metered::new(
            Arc::new(FakeExecutor {
                gate: release.clone(),
            }),
            store.clone(),
        ));
        Some(Arc::new(
            fixture::start_engine(store.clone(), exec, cfg).await,
        ))
    } else {
        None
    };
    let workers = engine.clone().map(|e| e as Arc<dyn WorkerControl>);
    let state = AppState::new(settings.clone(), store, catalog, workers)
        .await
        .expect("app state");
    let listener = api::bind(settings.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        addr,
        state,
        exercises,
        engine,
        gate: release,
        shutdown: Some(tx),
        server: Some(server),
        fx,
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
            cookie: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Graceful shutdown; returns once `serve` has returned.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            tokio::time::timeout(DEADLINE, h)
                .await
                .expect("serve returns after shutdown")
                .unwrap()
                .unwrap();
        }
    }

    /// Polls the submission until it is finished; returns its body.
    pub async fn finished(&self, client: &mut Client, id: &str) -> Value {
        let path = format!("/api/v1/submissions/{id}");
        let c = &*client;
        fixture::eventually("submission finished", DEADLINE, || {
            let path = path.clone();
            async move {
                let r = c.get(&path).await;
                let v: Value = r.json().await.ok()?;
                (v["state"] == "finished").then_some(v)
            }
        })
        .await
    }
}

/// A client that keeps its session cookie.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

impl Client {
    fn with_cookie(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(c) => rb.header("cookie", c),
            None => rb,
        }
    }

    fn keep(&mut self, r: &reqwest::Response) {
        if let Some(v) = r.headers().get("set-cookie") {
            let v = v.to_str().unwrap();
            self.cookie = Some(v.split(';').next().unwrap().to_owned());
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.with_cookie(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_session(&mut self, path: &str) -> reqwest::Response {
        let r = self.get(path).await;
        self.keep(&r);
        r
    }

    pub async fn post_json(&mut self, path: &str, body: &Value) -> reqwest::Response {
        let r = self
            .with_cookie(self.http.post(format!("{}{path}", self.base)))
            .json(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    pub async fn post_multipart(&mut self, form: reqwest::multipart::Form) -> reqwest::Response {
        let r = self
            .with_cookie(self.http.post(format!("{}/api/v1/submissions", self.base)))
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    pub async fn submit(&mut self, content: &str, name: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/submissions",
            &json!({"exercise": "echo", "files": {"a.sh": content}, "display_name": name}),
        )
        .await
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.unwrap()
    }
}

/// The `code` of an error body, after checking the status.
pub async fn error_code(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    let v: Value = r.json().await.expect("JSON error body");
    assert!(v["error"]["message"].is_string(), "{v}");
    v["error"]["code"].as_str().expect("error code").to_owned()
}

/// A ZIP with these entries, stored without compression.
pub fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Instantiates each listed `async fn(Db)` once per back end.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Db::Sqlite).await; }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Db::Postgres).await; }
            )*
        }
    };
}
