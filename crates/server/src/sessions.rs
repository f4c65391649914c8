//! Anonymous sessions: a signed cookie (HMAC-SHA256) created on first use, and the
//! session secret behind it (configured, shared through Redis, or generated on disk).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

use crate::settings::MIN_SECRET_BYTES;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "gauntlet_session";
/// The Redis key holding the session secret shared by API instances.
const REDIS_SECRET_KEY: &str = "gauntlet:session-secret";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the session secret is {0} bytes long; at least {MIN_SECRET_BYTES} are required")]
    Weak(usize),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} is readable by others (mode {mode:o}); make it 0600")]
    Mode { path: PathBuf, mode: u32 },
    #[error("cannot share the session secret through Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A client's session: its opaque id, and whether it was created by this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// The `Set-Cookie` value to send when the session is new.
    pub set_cookie: Option<String>,
}

impl Session {
    /// Made by this very request: it owns nothing yet, and no page could know its token.
    pub fn is_new(&self) -> bool {
        self.set_cookie.is_some()
    }
}

/// Signs and checks session cookies.
pub struct SessionKeys {
    key: SecretSlice<u8>,
    ttl: Duration,
    secure: bool,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("ttl", &self.ttl)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

impl SessionKeys {
    /// Refuses a secret shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &SecretString, ttl: Duration, secure: bool) -> Result<Self, SessionError> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SessionError::Weak(bytes.len()));
        }
        Ok(SessionKeys {
            key: SecretSlice::from(bytes.to_vec()),
            ttl,
            secure,
        })
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(self.key.expose_secret())
            .expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// A new session valid until `now + ttl` (Unix seconds).
    pub fn issue(&self, now_secs: u64) -> Session {
        let id = B64.encode(rand::random::<[u8; 16]>());
        let expires = now_secs + self.ttl.as_secs();
        let payload = format!("v1.{id}.{expires}");
        let sig = B64.encode(self.mac(&payload).finalize().into_bytes());
        let mut cookie = format!(
            "{COOKIE_NAME}={payload}.{sig}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
            self.ttl.as_secs()
        );
        if self.secure {
            cookie.push_str("; Secure");
        }
        Session {
            id,
            set_cookie: Some(cookie),
        }
    }

    /// The session id in a cookie value, if its signature holds (checked in constant
    /// time) and it has not expired.
    pub fn verify(&self, value: &str, now_secs: u64) -> Option<String> {
        let (payload, sig) = value.rsplit_once('.')?;
        let mut parts = payload.split('.');
        let (version, id, expires) = (parts.next()?, parts.next()?, parts.next()?);
        if version != "v1" || parts.next().is_some() || id.len() != 22 {
            return None;
        }
        let sig = B64.decode(sig).ok()?;
        self.mac(payload).verify_slice(&sig).ok()?;
        let expires: u64 = expires.parse().ok()?;
        (expires > now_secs).then(|| id.to_owned())
    }

    /// The anti-forgery token of a session: a page of this origin reads it from
    /// `GET /api/v1/session` and sends it back as `X-CSRF-Token` with every write. Derived
    /// from the session id with the secret, so nothing more is stored.
    pub fn csrf_token(&self, session_id: &str) -> String {
        B64.encode(
            self.mac(&format!("csrf.{session_id}"))
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `presented` is the session's anti-forgery token (constant time).
    pub fn csrf_matches(&self, session_id: &str, presented: &str) -> bool {
        match B64.decode(presented.trim()) {
            Ok(sig) => self
                .mac(&format!("csrf.{session_id}"))
                .verify_slice(&sig)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// The session of a request from its `Cookie` headers, or a new one.
    pub fn from_cookies<'a>(
        &self,
        cookies: impl Iterator<Item = &'a str>,
        now_secs: u64,
    ) -> Session {
        for header in cookies {
            for pair in header.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    if name == COOKIE_NAME {
                        if let Some(id) = self.verify(value, now_secs) {
                            return Session {
                                id,
                                set_cookie: None,
                            };
                        }
                    }
                }
            }
        }
        self.issue(now_secs)
    }
}

/// The session secret: `SESSION_SECRET` when set; else, with Redis, one secret shared
/// by every instance (created once with `SET NX`); else `<data-dir>/sessions/secret`,
/// generated with mode 0600 in a 0700 folder when absent.
pub async fn resolve_secret(
    configured: Option<&SecretString>,
    redis: Option<&redis::aio::ConnectionManager>,
    data_dir: &Path,
) -> Result<SecretString, SessionError> {
    if let Some(s) = configured {
        let n = s.expose_secret().len();
        if n < MIN_SECRET_BYTES {
            return Err(SessionError::Weak(n));
        }
        return Ok(s.clone());
    }
    if let Some(conn) = redis {
        let mut conn = conn.clone();
        let fresh = generate();
        let _: Option<String> = redis::cmd("SET")
            .arg(REDIS_SECRET_KEY)
            .arg(fresh.expose_secret())
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        let shared: String = redis::cmd("GET")
            .arg(REDIS_SECRET_KEY)
            .query_async(&mut conn)
            .await?;
        if shared.len() < MIN_SECRET_BYTES {
            return Err(SessionError::Weak(shared.len()));
        }
        return Ok(SecretString::from(shared));
    }
    let dir = data_dir.join("sessions");
    tokio::task::spawn_blocking(move || secret_file(&dir))
        .await
        .expect("secret file task")
}

fn generate() -> SecretString {
    SecretString::from(B64.encode(rand::random::<[u8; 32]>()))
}

fn secret_file(dir: &Path) -> Result<SecretString, SessionError> {
    let io_err = |what, path: &Path| {
        let path = path.to_owned();
        move |source| SessionError::Io { what, path, source }
    };
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(io_err("cannot create", dir)(e)),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("cannot restrict", dir))?;
    let path = dir.join("secret");
    let secret = generate();
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_nofollow())
        .open(&path)
    {
        Ok(mut f) => {
            f.write_all(secret.expose_secret().as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io_err("cannot write", &path))?;
            tracing::info!(path = %path.display(), "generated a session secret");
            Ok(secret)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let mut f = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc_nofollow())
                .open(&path)
                .map_err(io_err("cannot open", &path))?;
            let mode = f.metadata().map_err(io_err("cannot stat", &path))?.mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SessionError::Mode { path, mode });
            }
            let mut s = String::new();
            f.read_to_string(&mut s)
                .map_err(io_err("cannot read", &path))?;
            let s = s.trim().to_owned();
            if s.len() < MIN_SECRET_BYTES {
                return Err(SessionError::Weak(s.len()));
            }
            Ok(SecretString::from(s))
        }
        Err(e) => Err(io_err("cannot create", &path)(e)),
    }
}

fn libc_nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(
            &SecretString::from("k".repeat(32)),
            Duration::from_secs(100),
            false,
        )
        .unwrap()
    }

    #[test]
    fn weak_secret_is_refused() {
        let e = SessionKeys::new(
            &SecretString::from("x".repeat(31)),
            Duration::from_secs(1),
            false,
        );
        assert!(matches!(e, Err(SessionError::Weak(31))));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session_and_one_secret() {
        let k = keys();
        let (a, b) = (k.issue(1).id, k.issue(1).id);
        let token = k.csrf_token(&a);
        assert!(k.csrf_matches(&a, &token));
        assert!(!k.csrf_matches(&b, &token));
        assert!(!k.csrf_matches(&a, ""));
        assert!(!k.csrf_matches(&a, "not base64!"));
        let other = SessionKeys::new(
            &SecretString::from("o".repeat(32)),
            Duration::from_secs(100),
            false,
        )
        .unwrap();
        assert!(!other.csrf_matches(&a, &token));
    }

    #[test]
    fn cookie_round_trip_and_tampering() {
        let k = keys();
        let s = k.issue(1000);
        let cookie = s.set_cookie.unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("Secure"));
        let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
        assert_eq!(k.verify(value, 1000).as_deref(), Some(s.id.as_str()));
        // Expired.
        assert_eq!(k.verify(value, 1100), None);
        // Tampered id, signature, or another key.
        let mut chars: Vec<char> = value.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(k.verify(&tampered, 1000), None);
        assert_eq!(k.verify(&format!("{value}x"), 1000), None);
        let other = SessionKeys::new(
            &SecretString::from("o".repeat(32)),
            Duration::from_secs(100),
            false,
        )
        .unwrap();
        assert_eq!(other.verify(value, 1000), None);
        for junk in [
            "",
            ".",
            "v1..",
            "v1.a.b.c",
            "v2.xxxxxxxxxxxxxxxxxxxxxx.2000.sig",
        ] {
            assert_eq!(k.verify(junk, 1000), None, "{junk}");
        }
        let again = k.from_cookies(
            ["a=b; gauntlet_session=".to_owned() + value]
                .iter()
                .map(String::as_str),
            1000,
        );
        assert_eq!(again.id, s.id);
        assert!(again.set_cookie.is_none());
    }

    #[test]
    fn secure_flag() {
        let k = SessionKeys::new(
            &SecretString::from("k".repeat(32)),
            Duration::from_secs(1),
            true,
        )
        .unwrap();
        assert!(k.issue(0).set_cookie.unwrap().ends_with("; Secure"));
    }

    #[tokio::test]
    async fn generated_secret_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = resolve_secret(None, None, dir.path()).await.unwrap();
        let b = resolve_secret(None, None, dir.path()).await.unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().len() >= MIN_SECRET_BYTES);
        let meta = fs::metadata(dir.path().join("sessions")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        let meta = fs::metadata(dir.path().join("sessions/secret")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        fs::set_permissions(
            dir.path().join("sessions/secret"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(matches!(
            resolve_secret(None, None, dir.path()).await,
            Err(SessionError::Mode { .. })
        ));
        let weak = SecretString::from("short".to_owned());
        assert!(matches!(
            resolve_secret(Some(&weak), None, dir.path()).await,
            Err(SessionError::Weak(5))
        ));
    }
}
