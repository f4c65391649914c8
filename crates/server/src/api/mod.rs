//! The HTTP API (docs/api.md): router, shared state, middleware (sessions, security
//! headers, body caps and timeouts, CORS, request spans) and the server loop with header
//! read timeouts and graceful shutdown. Handlers live in the sibling modules.

mod admin;
pub mod error;
mod events;
mod handlers;
mod session;
mod submit;
pub mod types;
pub mod web;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;

use crate::catalog::Catalog;
use crate::limits::{
    AdmissionLocks, ClientKey, RateConfig, RateLimiter, SharedRedis, StreamCaps, StreamLimits,
};
use crate::metrics::Metrics;
use crate::sessions::{self, Session, SessionKeys};
use crate::settings::{Settings, SettingsError};
use gauntlet_queue::store::Store;
use gauntlet_queue::WorkerControl;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Session(#[from] sessions::SessionError),
    #[error("cannot reach Redis at REDIS_URL: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    limiter: RateLimiter,
    sessions: SessionKeys,
    metrics: &'static Metrics,
    workers: Option<Arc<dyn WorkerControl>>,
    streams: Arc<StreamLimits>,
    admissions: AdmissionLocks,
    /// The Redis the limits share, when configured.
    redis: Option<Arc<SharedRedis>>,
    /// SHA-256 of the admin token: compared in constant time; `None` disables admin routes.
    admin_digest: Option<[u8; 32]>,
    /// Secret values (as they would appear in JSON text) blanked out of event streams.
    redactions: Vec<String>,
    shutdown: CancellationToken,
}

impl AppState {
    /// Validates the settings, connects Redis when configured (limits and the session
    /// secret are then shared by every instance), and resolves the session secret.
    pub async fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        workers: Option<Arc<dyn WorkerControl>>,
    ) -> Result<AppState, StartError> {
        settings.validate()?;
        let metrics = Metrics::global();
        let redis = match &settings.redis_url {
            Some(url) => Some(
                SharedRedis::connect(url.expose_secret(), settings.on_redis_down, metrics).await?,
            ),
            None => None,
        };
        let secret = sessions::resolve_secret(
            settings.session_secret.as_ref(),
            redis.as_ref().map(|r| r.connection()).as_ref(),
            &settings.common.data_dir,
        )
        .await?;
        let sessions = SessionKeys::new(&secret, settings.session_ttl, settings.behind_tls)?;
        let limiter = RateLimiter::new(RateConfig::from_settings(&settings), redis.clone());
        let streams = StreamLimits::new(
            StreamCaps {
                per_session: settings.max_streams_per_session,
                per_ip: settings.max_streams_per_ip,
                total: settings.max_streams,
            },
            redis.clone(),
            metrics,
        );
        let admissions = AdmissionLocks::new(redis.clone());
        let admin_digest = match (&settings.admin_token, settings.strong_admin_token()) {
            (_, Some(t)) => Some(digest(t.expose_secret().as_bytes())),
            (Some(_), None) => {
                tracing::warn!(
                    "ADMIN_TOKEN is shorter than 32 bytes: the admin endpoints are disabled"
                );
                None
            }
            (None, None) => {
                tracing::warn!("ADMIN_TOKEN is not set: the admin endpoints are disabled");
                None
            }
        };
        let mut redactions: Vec<String> = settings
            .secrets()
            .iter()
            .chain(std::iter::once(&secret))
            .map(|s| s.expose_secret().to_owned())
            .filter(|s| s.len() >= 8)
            .map(|s| {
                // As the secret appears inside a JSON string.
                let quoted = serde_json::to_string(&s).unwrap_or_default();
                quoted[1..quoted.len().saturating_sub(1).max(1)].to_owned()
            })
            .collect();
        redactions.sort_by_key(|s| std::cmp::Reverse(s.len()));
        redactions.dedup();
        Metrics::global().set_queue_capacity(settings.max_queue.into());
        if !settings.rate_limits_on() {
            tracing::warn!("GAUNTLET_RATE_LIMITS=off: per-client rate limits are disabled");
        }
        Ok(AppState {
            inner: Arc::new(Inner {
                settings,
                store,
                catalog,
                limiter,
                sessions,
                metrics,
                workers,
                streams,
                admissions,
                redis,
                admin_digest,
                redactions,
                shutdown: CancellationToken::new(),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.inner.catalog
    }
    pub fn metrics(&self) -> &'static Metrics {
        self.inner.metrics
    }
    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }
    pub(crate) fn admissions(&self) -> &AdmissionLocks {
        &self.inner.admissions
    }
    pub(crate) fn streams(&self) -> &Arc<StreamLimits> {
        &self.inner.streams
    }
    /// Event streams open on this instance.
    pub fn open_streams(&self) -> u32 {
        self.inner.streams.open()
    }
    /// The Redis the limits share, when configured (tests watch its health).
    pub fn shared_redis(&self) -> Option<&Arc<SharedRedis>> {
        self.inner.redis.as_ref()
    }

    /// The client a request comes from (behind trusted proxies: the forwarded address),
    /// and its key in every per-address limit.
    pub(crate) fn client(&self, req: &Request) -> (std::net::IpAddr, ClientKey) {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        // Several X-Forwarded-For lines read as one list, in order: a proxy may add its
        // own line after one the client forged, and the right-most entries are the proxies'.
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("?"))
            .collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        let s = self.settings();
        let ip = crate::limits::client_ip(peer, forwarded.as_deref(), &s.trusted_proxies);
        (ip, ClientKey::of(ip, s.ipv6_prefix))
    }
    pub(crate) fn workers(&self) -> Option<&Arc<dyn WorkerControl>> {
        self.inner.workers.as_ref()
    }
    pub(crate) fn redactions(&self) -> &[String] {
        &self.inner.redactions
    }
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
    pub(crate) fn sessions(&self) -> &SessionKeys {
        &self.inner.sessions
    }
    /// Whether the admin routes are enabled (a strong `ADMIN_TOKEN` is set).
    pub fn admin_enabled(&self) -> bool {
        self.inner.admin_digest.is_some()
    }

    /// Constant-time comparison of a presented bearer token with `ADMIN_TOKEN` (both are
    /// hashed first, so neither length nor content leaks through timing).
    pub(crate) fn admin_token_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        match &self.inner.admin_digest {
            Some(want) => digest(presented.as_bytes()).ct_eq(want).into(),
            None => false,
        }
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gauntlet",
        description = "Grades untrusted code: exercises, submissions, live events, leaderboard, operations."
    ),
    components(schemas(
        error::ErrorBody,
        error::ErrorDetail,
        types::GradeResultDoc,
        types::OutcomeDoc,
        types::TestResultDoc,
        types::TestStatusDoc,
        types::ExercismDoc,
        types::ExercismStatusDoc,
        types::ExercismTestDoc,
    )),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes with their OpenAPI description, before state and middleware.
/// With `state`, the admin routes get their bearer-token check.
fn api_routes(state: Option<&AppState>) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let admin = OpenApiRouter::new()
        .routes(routes!(admin::queue))
        .routes(routes!(admin::cancel))
        .routes(routes!(admin::pause))
        .routes(routes!(admin::resume))
        .routes(routes!(admin::reload))
        .routes(routes!(admin::release_name));
    let public = OpenApiRouter::new()
        .routes(routes!(handlers::list_exercises))
        .routes(routes!(handlers::get_exercise))
        .routes(routes!(submit::submit))
        .routes(routes!(handlers::get_submission))
        .routes(routes!(events::events))
        .routes(routes!(handlers::leaderboard))
        .routes(routes!(session::session))
        .routes(routes!(session::session_submissions));
    let ops = OpenApiRouter::new()
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::readyz))
        .routes(routes!(handlers::metrics));
    let (admin, admin_doc) = admin.split_for_parts();
    let (public, public_doc) = public.split_for_parts();
    let (ops, ops_doc) = ops.split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(public_doc);
    doc.merge(admin_doc);
    doc.merge(ops_doc);
    let admin = match state {
        Some(state) => admin.route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin,
        )),
        None => admin,
    };
    (Router::new().merge(public).merge(admin).merge(ops), doc)
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes(None).1
}

/// The whole application: every route, with its middleware and state.
pub fn build_router(state: AppState) -> Router {
    let s = state.settings();
    let (routes, doc) = api_routes(Some(&state));
    let doc = Arc::new(doc);
    let mut app = routes
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(web::routes())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), session_layer))
        .layer(DefaultBodyLimit::max(s.max_body as usize))
        .layer(middleware::from_fn_with_state(state.clone(), body_cap))
        .layer(RequestBodyTimeoutLayer::new(s.body_timeout))
        .with_state(state.clone());
    if !s.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = s
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::CONTENT_TYPE,
                    HeaderName::from_static("last-event-id"),
                    HeaderName::from_static("x-csrf-token"),
                ])
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        );
    }
    app = security_headers(app, s.behind_tls);
    app.layer(middleware::from_fn(request_span))
}

fn security_headers(app: Router, tls: bool) -> Router {
    let fixed: [(&'static str, &'static str); 6] = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "interest-cohort=()"),
    ];
    let mut app = app;
    for (name, value) in fixed {
        app = app.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    // The API's answers are data, never documents: nothing may load from them. The web
    // app's files set their own, wider policy (`web::PAGE_CSP`).
    app = app.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ));
    app = app.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));
    if tls {
        app = app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    app
}

/// Refuses a declared body over the cap before reading a byte of it.
async fn body_cap(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let max = state.settings().max_body;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return axum::response::IntoResponse::into_response(ApiError::TooLarge(max));
    }
    next.run(req).await
}

/// Attaches the client's session (signed cookie) to `/api/v1/` requests outside admin,
/// creating one on first use.
async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/v1/")
        || path.starts_with("/api/v1/admin")
        || path == "/api/v1/openapi.json"
    {
        return next.run(req).await;
    }
    let cookies = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let session: Session = state.inner.sessions.from_cookies(cookies, now_secs());
    if let Err(refused) = csrf_check(&state, &req, &session) {
        state.metrics().rejected("csrf");
        return axum::response::IntoResponse::into_response(refused);
    }
    let set_cookie = session.set_cookie.clone();
    req.extensions_mut().insert(session);
    let mut res = next.run(req).await;
    if let Some(c) = set_cookie {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The session `session_layer` attached to a request under `/api/v1/`.
pub(crate) fn session_of(req: &Request) -> Result<Session, ApiError> {
    req.extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(format!("no session on {}", req.uri().path())))
}

/// Cross-site request forgery: a write that a browser sends (it says so with `Origin` or
/// `Sec-Fetch-Site`, which pages cannot suppress) must come from this origin, or from one
/// of `GAUNTLET_CORS_ORIGINS`, and carry the session's `X-CSRF-Token`, which only a page
/// that could read `GET /api/v1/session` knows. Clients that are not browsers (curl,
/// scripts) send neither header and are not asked for a token: no browser of a victim is
/// involved, so there is nothing to forge.
fn csrf_check(state: &AppState, req: &Request, session: &Session) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let headers = req.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (origin, site) = (text("origin"), text("sec-fetch-site"));
    if origin.is_none() && site.is_none() {
        return Ok(());
    }
    let listed = origin.is_some_and(|o| state.settings().cors_origins.iter().any(|c| c == o));
    let same = match site {
        Some(site) => site == "same-origin" || site == "none",
        None => origin.is_some_and(|o| same_host(o, text("host"))),
    };
    if !same && !listed {
        return Err(ApiError::Csrf(
            "cross-origin write refused: this origin is not in GAUNTLET_CORS_ORIGINS".into(),
        ));
    }
    let token = text("x-csrf-token").unwrap_or_default();
    if session.is_new() || !state.inner.sessions.csrf_matches(&session.id, token) {
        return Err(ApiError::Csrf(
            "missing or wrong X-CSRF-Token: a page must send the csrf_token of GET \
             /api/v1/session with every write"
                .into(),
        ));
    }
    Ok(())
}

/// Whether an `Origin` (`scheme://host[:port]`) names the `Host` the request was sent to.
fn same_host(origin: &str, host: Option<&str>) -> bool {
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// One span per request (method, path, a request id); handlers add `submission_id`.
async fn request_span(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let request_id = format!("{:016x}", rand::random::<u64>());
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
        submission_id = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    async move {
        let mut res = next.run(req).await;
        let status = res.status().as_u16();
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        );
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            res.headers_mut().insert("x-request-id", v);
        }
        res
    }
    .instrument(span)
    .await
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, ends the
/// open event streams and gives in-flight requests `shutdown_grace` to finish. Clients
/// must send their headers within `header_timeout`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = build_router(state.clone());
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.settings().header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let grace = state.settings().shutdown_grace;
    tokio::pin!(shutdown);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Small writes (event-stream lines, short JSON) must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let svc =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    Ok::<_, Infallible>(
                        app.oneshot(req.map(Body::new))
                            .await
                            .unwrap_or_else(|e| match e {}),
                    )
                }
            });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down: no new connections, closing event streams");
    state.shutdown_token().cancel();
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => tracing::warn!(?grace, "grace period over; dropping open connections"),
    }
    Ok(())
}

/// Everything `gauntlet serve` needs from the API in one call: builds the state
/// (validating settings, Redis, session secret), binds `settings.listen`, serves until
/// `shutdown`.
pub async fn run(
    settings: Settings,
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    workers: Option<Arc<dyn WorkerControl>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let addr = settings.listen;
    let state = AppState::new(settings, store, catalog, workers).await?;
    let listener = bind(addr).await?;
    serve(listener, state, shutdown)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Binds `settings.listen` (or any address given) and serves until `shutdown`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// The secrets the grader must redact from every log; none of them may be passed into
/// a worker's or sandbox's environment.
pub fn redaction_list(settings: &Settings) -> Vec<SecretString> {
    settings.secrets()
}
