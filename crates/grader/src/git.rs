//! Git submissions: `{"git": {"url", "ref"}}` on the API, `gauntlet grade --git`.
//!
//! The clone never happens on the host. A jail of its own, as the jail's user, with
//! the egress proxy (gateway.rs) as its only way out and the operator's git hosts
//! (`GAUNTLET_GIT_HOSTS`) as the proxy's allow-list, fetches one commit (depth 1, no
//! tags, no submodules) into a fresh repository made without templates (so without
//! hooks), with the system and global configuration ignored, no credential helper and
//! no prompt. Nothing is checked out: the jail lists the commit's tree (refusing
//! symlinks and submodules, and past [`GitLimits::max_objects`] objects) and writes it
//! as a ZIP with `git archive`, which the host reads back through the jail's collect
//! channel (size-capped) and then treats exactly as an uploaded archive: the same
//! caps, path rules and layout (`archive` exercises), or only the starter paths
//! (`files` exercises).

use std::sync::Arc;
use std::time::Duration;

use gauntlet_sandbox::{Collect, Limits, Spec};

use crate::egress::{Counters, HostPort, Policy};
use crate::gateway::{self, Gateway};

/// What a git submission names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    pub url: String,
    /// A branch, a tag or a full commit hash; `None` is the remote's HEAD.
    pub reference: Option<String>,
}

/// The caps of one clone.
#[derive(Debug, Clone)]
pub struct GitLimits {
    /// Bytes through the proxy, both ways.
    pub max_bytes: u64,
    /// Objects in the fetched commit (its trees and blobs).
    pub max_objects: u64,
    pub max_time: Duration,
    /// The largest ZIP of the tree the host accepts.
    pub max_archive: u64,
}

impl Default for GitLimits {
    fn default() -> Self {
        GitLimits {
            max_bytes: 64 << 20,
            max_objects: 5000,
            max_time: Duration::from_secs(60),
            max_archive: 10 << 20,
        }
    }
}

/// The commit fetched, as a ZIP of its tree.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub zip: Vec<u8>,
    pub commit: String,
}

/// Why a git submission was not fetched.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The submission's fault (a URL, a ref, a repository the rules refuse): 400 / exit 2.
    #[error("{0}")]
    Refused(String),
    /// The host's (a jail that could not be built): the queue tries again.
    #[error("{0}")]
    Host(String),
}

/// Checks `url` against the rules and the operator's `hosts`: https, or plain http to a
/// loopback `host:port` the operator listed; no credentials; the host on the list.
pub fn check_url(url: &str, hosts: &[HostPort]) -> Result<HostPort, String> {
    if hosts.is_empty() {
        return Err("git submissions are off on this server (GAUNTLET_GIT_HOSTS is empty)".into());
    }
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(
            "the git URL must be one line of at most 2048 characters, without spaces".into(),
        );
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL (give https://host/owner/repo)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("credentials in the git URL are refused".into());
    }
    if rest.contains(['?', '#']) {
        return Err("the git URL may not have a query or a fragment".into());
    }
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => {
            return Err(format!(
                "{scheme}:// URLs are refused: git submissions use https"
            ))
        }
    };
    let target = HostPort::parse(authority, default_port)?;
    if !hosts.contains(&target) {
        let allowed: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{target} is not a git host this server allows (allowed: {})",
            allowed.join(", ")
        ));
    }
    if scheme == "http" && !is_loopback_host(&target.host) {
        return Err(format!(
            "plain http is refused for {target}: only https, or http to a loopback host the operator lists"
        ));
    }
    Ok(target)
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a ref: a branch or tag name git would accept (a conservative subset), or a
/// full commit hash (40 or 64 hex digits).
pub fn check_ref(reference: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{reference:?} is not a branch, a tag or a full commit hash (letters, digits, \
             '/', '-', '_', '.'; at most 200 characters)"
        )
    };
    let ok_chars = reference
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if reference.is_empty()
        || reference.len() > 200
        || !ok_chars
        || reference.starts_with(['-', '/', '.'])
        || reference.ends_with(['/', '.'])
        || reference.contains("..")
        || reference.contains("//")
        || reference.ends_with(".lock")
    {
        return Err(bad());
    }
    Ok(())
}

/// The clone's script. Its arguments: URL, ref (or `HEAD`), object cap. A refusal is
/// one line `refused: ...` on stderr and exit 3.
const SCRIPT: &str = r#"
set -eu
url=$1; ref=$2; max_objects=$3
refuse() { echo "refused: $*" >&2; exit 3; }
g() { /usr/bin/git -c protocol.allow=never -c protocol.https.allow=always \
  -c protocol.http.allow=always -c http.proxy="$GAUNTLET_PROXY" \
  -c credential.helper= -c core.hooksPath=/nonexistent -c core.fsmonitor=false \
  -c fetch.recurseSubmodules=false -c submodule.recurse=false \
  -c transfer.fsckObjects=true -c http.followRedirects=true -c init.defaultBranch=main "$@"; }
g init -q --bare --template= /tmp/repo
cd /tmp/repo
if ! g fetch -q --depth=1 --no-tags --no-recurse-submodules "$url" "$ref" 2>/tmp/fetch.err; then
  tail -n 3 /tmp/fetch.err >&2
  refuse "could not fetch $ref from $url"
fi
commit=$(g rev-parse --verify 'FETCH_HEAD^{commit}')
g ls-tree -r -t --full-tree "$commit" >/tmp/tree
while read -r mode type oid path; do
  case "$mode" in
    120000) refuse "$path is a symlink: symlinks are not allowed" ;;
    160000) refuse "$path is a submodule: submodules are not allowed" ;;
  esac
  case "$path" in
    .gitmodules) refuse ".gitmodules: submodules are not allowed" ;;
  esac
done </tmp/tree
objects=$(wc -l </tmp/tree)
if [ "$objects" -gt "$max_objects" ]; then
  refuse "the commit's tree has $objects objects, more than the $max_objects allowed"
fi
g archive --format=zip -o /tmp/tree.zip "$commit"
printf '%s' "$commit" >/tmp/commit
"#;

/// Fetches `source` in a jail with the proxy allowing `hosts` only.
pub fn fetch(
    source: &GitSource,
    hosts: &[HostPort],
    limits: &GitLimits,
    job: &str,
    counters: Arc<Counters>,
) -> Result<Fetched, GitError> {
    check_url(&source.url, hosts).map_err(GitError::Refused)?;
    if let Some(r) = &source.reference {
        check_ref(r).map_err(GitError::Refused)?;
    }
    let mut policy = Policy::new(hosts.to_vec());
    policy.max_bytes = limits.max_bytes;
    policy.max_time = limits.max_time;
    let gateway = Gateway::open(policy, job, counters).map_err(GitError::Host)?;
    let reference = source.reference.as_deref().unwrap_or("HEAD");
    let max_objects = limits.max_objects.to_string();
    let mut spec = Spec::new([
        "/bin/sh",
        "-c",
        SCRIPT,
        "git-fetch",
        source.url.as_str(),
        reference,
        max_objects.as_str(),
    ]);
    spec.limits = Limits {
        wall_time: limits.max_time,
        idle_timeout: None,
        cpu_time: limits.max_time,
        memory: 512 << 20,
        pids: 64,
        tmp_size: limits.max_bytes.saturating_mul(3),
        output_limit: 64 << 10,
    };
    spec.env.extend(
        [
            ("GAUNTLET_PROXY", gateway::PROXY_URL),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GIT_ASKPASS", "/bin/false"),
            ("SSH_ASKPASS", "/bin/false"),
            ("GIT_LFS_SKIP_SMUDGE", "1"),
            ("HOME", "/tmp"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    spec.workdir = "/tmp".into();
    spec.collect = vec![
        Collect {
            inside: "/tmp/tree.zip".into(),
            max_bytes: limits.max_archive,
        },
        Collect {
            inside: "/tmp/commit".into(),
            max_bytes: 64,
        },
    ];
    let (ran, stats) = gateway.run(spec, 16 << 10);
    let mut ran = ran.map_err(|e| GitError::Host(format!("the git jail failed: {e}")))?;
    if !ran.succeeded() {
        let refused = ran
            .output
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("refused: "))
            .map(str::to_owned);
        let mut why = match refused {
            Some(why) => why,
            None => format!("git ended with {}", ran.ending()),
        };
        if let Some(denied) = stats.denials.first() {
            why.push_str(&format!(" (egress refused: {denied})"));
        } else if let Some(detail) = ran
            .output
            .lines()
            .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        {
            why.push_str(&format!(" ({})", detail.trim()));
        }
        return Err(GitError::Refused(format!("git submission refused: {why}")));
    }
    let commit = ran.report.collected.pop().flatten();
    let zip = ran.report.collected.pop().flatten();
    match (zip, commit) {
        (Some(zip), Some(commit)) => {
            let commit = String::from_utf8_lossy(&commit).trim().to_owned();
            if !(commit.len() == 40 || commit.len() == 64)
                || !commit.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(GitError::Host(format!(
                    "the git jail gave a bad commit id {commit:?}"
                )));
            }
            Ok(Fetched { zip, commit })
        }
        (None, _) => Err(GitError::Refused(format!(
            "git submission refused: the repository's tree is larger than {} as a ZIP",
            crate::log::approx_size(limits.max_archive)
        ))),
        (_, None) => Err(GitError::Host("the git jail gave no commit id".into())),
    }
}
