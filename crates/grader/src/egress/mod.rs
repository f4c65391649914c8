//! Allow-list-only egress for jobs: an HTTP proxy that reaches only the destinations
//! an operator named.
//!
//! A job runs in an empty network namespace (only `lo`). When it may reach the network
//! (a dependency install, a git clone) the host opens a listening socket at
//! `127.0.0.1:3128` *inside the job's namespace* and hands it to [`Proxy::serve`]. The
//! proxy accepts on it from the host side and connects out from the host's own network,
//! to allowed destinations only. pip, npm, git and curl find it through
//! `HTTPS_PROXY`/`HTTP_PROXY`.
//!
//! What a request goes through, in order:
//!
//! 1. The request head (at most 16 KiB, within 10 s): `CONNECT host:port HTTP/1.x`, or a
//!    plain-HTTP request in absolute form (`GET http://host[:port]/path HTTP/1.1`).
//! 2. The caps: connections over the proxy's life ([`Policy::max_connections`], answered
//!    `429`) and bytes ([`Policy::max_bytes`], the connection is closed).
//! 3. [`decide`]: the exact `host:port` must be on the allow-list; the proxy resolves the
//!    name itself and refuses the request if *any* address is one a job must not reach
//!    (loopback, private, link-local, metadata, …: [`classify`]), unless the operator
//!    named that address or `localhost` (see [`decide`]). Cloud metadata addresses are
//!    refused always; documentation ranges are allowed (they route nowhere on the
//!    internet; some sites' resolvers give them to a relay in front of registries).
//! 4. The proxy connects to the addresses it checked (never resolving again, so there
//!    is no DNS-rebinding window) and tunnels bytes both ways until either side is done.
//!
//! Every decision is logged (`submission_id`, `host`, `port`, `decision`, `reason`) and
//! counted, in the process's [`Counters`] (for `/metrics`) and in the proxy's own
//! [`ProxyStats`], whose first refusal the failed install's or clone's message quotes.
//!
//! Why hand-written: no well-kept synchronous crate is an allow-listing CONNECT proxy
//! that checks addresses *after* resolving them, and the HTTP this needs is one request
//! line and its header lines; everything after them is an opaque byte tunnel. No async
//! runtime either: a job's egress is a handful of connections, two threads each.

mod proxy;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub use proxy::{Proxy, ProxyStats};

/// One destination an operator allows: a host name or IP literal, and a port.
///
/// `host` is stored lowercased, without a trailing dot, and an IP literal in its
/// canonical form without brackets (`::1`, not `[::1]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Parses `"host"`, `"host:port"`, `"[::1]:port"` or `"1.2.3.4:port"`; a bare host
    /// gets `default_port`. The host is lowercased and must be a host name (letters,
    /// digits, `-`, `.`) or an IP literal (IPv6 in brackets). The error is one sentence
    /// naming the bad entry.
    pub fn parse(s: &str, default_port: u16) -> Result<HostPort, String> {
        let entry = s.trim();
        parse_authority(entry, Some(default_port))
            .map_err(|why| format!("host entry {} {why}", quote(entry)))
    }

    /// The host as an IP address, when it is a literal.
    fn ip(&self) -> Option<IpAddr> {
        normalize_host(&self.host).parse().ok()
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses a comma-separated list of [`HostPort`] entries (the operator's
/// `GAUNTLET_PACKAGE_HOSTS`, `GAUNTLET_GIT_HOSTS`): spaces around entries are ignored,
/// empty entries (a trailing comma, an empty string) skipped, repeats kept once.
pub fn parse_host_list(s: &str, default_port: u16) -> Result<Vec<HostPort>, String> {
    let mut list: Vec<HostPort> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let hp = HostPort::parse(entry, default_port)?;
        if !list.contains(&hp) {
            list.push(hp);
        }
    }
    Ok(list)
}

/// What one proxy may do: where it may connect, and how much.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The destinations a job may reach; nothing else.
    pub allow: Vec<HostPort>,
    /// Bytes tunnelled, both directions, over the proxy's life. Past it every tunnel is
    /// closed and new requests are closed unanswered.
    pub max_bytes: u64,
    /// Connections accepted over the proxy's life; later ones are answered `429`.
    pub max_connections: u32,
    /// Connections served at once; more wait in the listener's backlog until one ends.
    pub max_concurrent: u32,
    /// After this the proxy stops: the listener and every tunnel are closed.
    pub max_time: Duration,
    /// How long connecting to one destination (all its addresses) may take.
    pub connect_timeout: Duration,
}

impl Policy {
    /// A policy for `allow` with defaults generous enough for a dependency install:
    /// 1 GiB, 512 connections, 32 at once, 10 minutes, 10 s to connect.
    pub fn new(allow: Vec<HostPort>) -> Policy {
        Policy {
            allow,
            max_bytes: 1 << 30,
            max_connections: 512,
            max_concurrent: 32,
            max_time: Duration::from_secs(10 * 60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Totals over every proxy of a process, for the service's Prometheus `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests let through.
    pub allowed: AtomicU64,
    /// Requests refused (not allowed, bad address, malformed, over a cap).
    pub denied: AtomicU64,
    /// Bytes tunnelled, both directions.
    pub bytes: AtomicU64,
}

/// What kind of address an IP is, as far as egress cares: only [`AddressKind::Public`]
/// (and [`AddressKind::Documentation`], see [`decide`])
/// is reachable without the operator naming it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKind {
    Public,
    Loopback,
    /// RFC 1918, IPv6 unique-local (`fc00::/7`) and the deprecated site-local.
    Private,
    LinkLocal,
    Unspecified,
    Broadcast,
    Multicast,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    SharedNat,
    Documentation,
    /// `0.0.0.0/8`, `240.0.0.0/4`, benchmarking, protocol assignments, IPv6 outside
    /// global unicast, …: nothing a job has business reaching.
    Reserved,
    /// A cloud provider's instance metadata service: never reachable, even when named.
    Metadata,
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressKind::Public => "a public address",
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::Unspecified => "the unspecified address",
            AddressKind::Broadcast => "the broadcast address",
            AddressKind::Multicast => "a multicast address",
            AddressKind::SharedNat => "a carrier-grade NAT address",
            AddressKind::Documentation => "a documentation address",
            AddressKind::Reserved => "a reserved address",
            AddressKind::Metadata => "a cloud metadata address, which is never reachable",
        })
    }
}

/// Classifies `ip`. IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64,
/// 6to4) are judged by that address, so `::ffff:127.0.0.1` is loopback.
pub fn classify(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    let [a, b, c, d] = ip.octets();
    match (a, b, c, d) {
        (169, 254, 169, 254) | (100, 100, 100, 200) => AddressKind::Metadata,
        (0, 0, 0, 0) => AddressKind::Unspecified,
        (0, ..) => AddressKind::Reserved,
        (10, ..) => AddressKind::Private,
        (100, 64..=127, ..) => AddressKind::SharedNat,
        (127, ..) => AddressKind::Loopback,
        (169, 254, ..) => AddressKind::LinkLocal,
        (172, 16..=31, ..) => AddressKind::Private,
        (192, 0, 0, _) => AddressKind::Reserved,
        (192, 0, 2, _) | (198, 51, 100, _) | (203, 0, 113, _) => AddressKind::Documentation,
        (192, 168, ..) => AddressKind::Private,
        (198, 18..=19, ..) => AddressKind::Reserved,
        (224..=239, ..) => AddressKind::Multicast,
        (255, 255, 255, 255) => AddressKind::Broadcast,
        (240..=255, ..) => AddressKind::Reserved,
        _ => AddressKind::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return AddressKind::Metadata;
    }
    if ip.is_unspecified() {
        return AddressKind::Unspecified;
    }
    if ip.is_loopback() {
        return AddressKind::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    match s[0] {
        0xff00..=0xffff => AddressKind::Multicast,
        0xfe80..=0xfebf => AddressKind::LinkLocal,
        // fec0::/10, the deprecated site-local, and fc00::/7, unique-local.
        0xfec0..=0xfeff | 0xfc00..=0xfdff => AddressKind::Private,
        0x2001 if s[1] == 0x0db8 => AddressKind::Documentation,
        0x3fff if s[1] < 0x1000 => AddressKind::Documentation,
        // 2001::/23: protocol assignments (Teredo, ORCHID, benchmarking, …).
        0x2001 if s[1] < 0x0200 => AddressKind::Reserved,
        // Global unicast is 2000::/3; everything else (100::/64 discard, …) is not.
        0x2000..=0x3fff => AddressKind::Public,
        _ => AddressKind::Reserved,
    }
}

/// The IPv4 address inside an IPv6 one that carries it: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`), 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] | [0, 0, 0, 0, 0, 0, ..] => {
            Some(low)
        }
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

/// The cap a request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// [`Policy::max_connections`].
    Connections(u32),
    /// [`Policy::max_bytes`].
    Bytes(u64),
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cap::Connections(n) => write!(
                f,
                "the job has opened all {n} connections its network access allows"
            ),
            Cap::Bytes(n) => write!(
                f,
                "the job has transferred all {} its network access allows",
                human_bytes(*n)
            ),
        }
    }
}

/// Why a request was refused. Its `Display` is one sentence a user can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The destination is not on the allow-list.
    #[error("{dest} is not on the allow-list ({})", allowed_text(allowed))]
    NotAllowed {
        dest: HostPort,
        allowed: Vec<HostPort>,
    },
    /// The destination is allowed, but (one of) its addresses is not one a job may reach.
    #[error("{}", address_text(dest, *addr, *kind))]
    Address {
        dest: HostPort,
        addr: IpAddr,
        kind: AddressKind,
    },
    /// The destination's name did not resolve.
    #[error("could not resolve {}: {error}", dest.host)]
    Resolve { dest: HostPort, error: String },
    /// The proxy's connection or byte cap is used up.
    #[error("{cap}")]
    Capped { cap: Cap },
}

fn allowed_text(allowed: &[HostPort]) -> String {
    const SHOWN: usize = 8;
    if allowed.is_empty() {
        return "the allow-list is empty".into();
    }
    let mut text = allowed
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if allowed.len() > SHOWN {
        text.push_str(&format!(" and {} more", allowed.len() - SHOWN));
    }
    format!("allowed: {text}")
}

fn address_text(dest: &HostPort, addr: IpAddr, kind: AddressKind) -> String {
    if dest.ip() == Some(addr) {
        format!("{addr} is {kind}")
    } else {
        format!("{} resolves to {addr}, {kind}", dest.host)
    }
}

/// Decides which addresses a request for `host:port` may reach, resolving a name with
/// `resolve` (getaddrinfo in production, a stub in tests).
///
/// The rules, in order:
/// - `host:port` must match an allow-list entry exactly (host case-insensitive, a
///   trailing dot ignored, an IP literal compared as an address);
/// - a name is resolved once; the addresses returned are the only ones the caller may
///   connect to (with `port`, whatever port the resolver answered);
/// - if *any* address is not [`AddressKind::Public`], the whole request is refused,
///   except an address the operator named: an IP-literal entry permits exactly that
///   address, and a `localhost` or loopback-literal entry permits loopback addresses
///   (for its port only, since the entry has to match first);
/// - [`AddressKind::Metadata`] is refused always, named or not.
pub fn decide(
    policy: &Policy,
    host: &str,
    port: u16,
    resolve: &dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>>,
) -> Result<Vec<SocketAddr>, Denied> {
    let host = normalize_host(host);
    let dest = HostPort {
        host: host.clone(),
        port,
    };
    let on_list = policy
        .allow
        .iter()
        .any(|entry| entry.port == port && normalize_host(&entry.host) == host);
    if !on_list {
        return Err(Denied::NotAllowed {
            dest,
            allowed: policy.allow.clone(),
        });
    }
    let literal: Option<IpAddr> = host.parse().ok();
    let resolved = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => match resolve(&host, port) {
            Ok(addrs) if addrs.is_empty() => {
                return Err(Denied::Resolve {
                    dest,
                    error: "no addresses".into(),
                })
            }
            Ok(addrs) => addrs,
            Err(e) => {
                return Err(Denied::Resolve {
                    dest,
                    error: e.to_string(),
                })
            }
        },
    };
    let loopback_named =
        host == "localhost" || literal.is_some_and(|ip| classify(ip) == AddressKind::Loopback);
    let mut addrs = Vec::with_capacity(resolved.len());
    for addr in resolved {
        let ip = addr.ip();
        let kind = classify(ip);
        let permitted = match kind {
            // Documentation ranges route nowhere on the internet, so they cannot lead into
            // the host's own networks; some sites' resolvers hand them out for a relay to
            // their package registries (this project's CI does).
            AddressKind::Public | AddressKind::Documentation => true,
            AddressKind::Metadata => false,
            AddressKind::Loopback if loopback_named => true,
            _ => literal == Some(ip),
        };
        if !permitted {
            return Err(Denied::Address {
                dest,
                addr: ip,
                kind,
            });
        }
        let addr = SocketAddr::new(ip, port);
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    Ok(addrs)
}

/// A host as the allow-list compares it: brackets and one trailing dot dropped,
/// lowercased, an IP literal in canonical form.
fn normalize_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// Parses `host[:port]` / `[v6][:port]` into a normalized, validated [`HostPort`]; the
/// port is required when `default_port` is `None`. The error completes a sentence
/// about the input ("… has no port").
fn parse_authority(s: &str, default_port: Option<u16>) -> Result<HostPort, String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("has a '[' without its ']'")?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| "has no valid IPv6 address between its brackets")?;
        let port = match after {
            "" => None,
            after => Some(
                after
                    .strip_prefix(':')
                    .ok_or("has something other than :port after its ']'")?,
            ),
        };
        (ip.to_string(), port)
    } else {
        let (host, port) = match s.split_once(':') {
            None => (s, None),
            Some((_, port)) if port.contains(':') => {
                return Err(
                    "looks like an IPv6 address: write it in brackets, e.g. [::1]:443".into(),
                )
            }
            Some((host, port)) => (host, Some(port)),
        };
        (normalize_name(host)?, port)
    };
    let port = match port {
        Some(p) => parse_port(p)?,
        None => default_port.ok_or("has no port (expected host:port)")?,
    };
    Ok(HostPort { host, port })
}

fn parse_port(p: &str) -> Result<u16, String> {
    let bad = || "has an invalid port (expected a number from 1 to 65535)".to_string();
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(port) => Ok(port),
    }
}

/// A host name or IPv4 literal, lowercased and without a trailing dot; letters, digits
/// and `-` in dot-separated labels. A name whose last label is all digits (`127.1`,
/// `2130706433`, `1.2.3.999`) is refused: resolvers read such names as numeric
/// addresses, and no real top-level domain is numeric.
fn normalize_name(host: &str) -> Result<String, String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(ip.to_string());
    }
    let bad = || "is not a valid host name or IP address".to_string();
    if host.is_empty() || host.len() > 253 {
        return Err(bad());
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(bad());
        }
    }
    let last = host.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(host)
}

/// `s` quoted for a message or a log line: escaped, and cut if long (it comes from the
/// job or the operator's settings).
fn quote(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// `n` bytes in the largest binary unit that divides it evenly enough to read well.
fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        // `size` is a power of two: whole sixteenths of it print exactly.
        if n >= size && n & (size / 16 - 1) == 0 {
            return format!("{} {unit}", n as f64 / size as f64);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_entries() {
        let cases: &[(&str, HostPort)] = &[
            ("pypi.org", hp("pypi.org", 443)),
            ("PyPI.Org.", hp("pypi.org", 443)),
            ("  github.com:22 ", hp("github.com", 22)),
            ("1.2.3.4:8080", hp("1.2.3.4", 8080)),
            ("10.0.0.5", hp("10.0.0.5", 443)),
            ("[::1]:3000", hp("::1", 3000)),
            ("[2001:DB8:0::1]", hp("2001:db8::1", 443)),
            ("localhost:8000", hp("localhost", 8000)),
            (
                "my-mirror.internal-1.example:65535",
                hp("my-mirror.internal-1.example", 65535),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(HostPort::parse(input, 443).as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn refuses_bad_entries_naming_them() {
        let bad = [
            "",
            "pypi.org:",
            "pypi.org:0",
            "pypi.org:65536",
            "pypi.org:44x",
            "pypi.org:+44",
            "::1",
            "::1:443",
            "[::1",
            "[::1]443",
            "[not-v6]:443",
            "pypi_org",
            "pypi..org",
            "-pypi.org",
            "py pi.org",
            "user@pypi.org",
            "127.1",
            "2130706433",
            "1.2.3.999",
            "http://pypi.org",
            "fe80::1%eth0",
        ];
        for input in bad {
            let err = HostPort::parse(input, 443).expect_err(input);
            assert!(
                err.starts_with(&format!("host entry {input:?} ")),
                "{input}: {err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
        let long = format!("{}.example", "a".repeat(64));
        assert!(HostPort::parse(&long, 443).is_err());
    }

    #[test]
    fn displays_entries() {
        assert_eq!(hp("pypi.org", 443).to_string(), "pypi.org:443");
        assert_eq!(hp("::1", 8080).to_string(), "[::1]:8080");
        let round = HostPort::parse(&hp("2001:db8::1", 80).to_string(), 1);
        assert_eq!(round, Ok(hp("2001:db8::1", 80)));
    }

    #[test]
    fn parses_lists() {
        assert_eq!(parse_host_list("", 443), Ok(vec![]));
        assert_eq!(parse_host_list("  ", 443), Ok(vec![]));
        assert_eq!(
            parse_host_list(
                " pypi.org , files.pythonhosted.org,github.com:22,pypi.org:443,",
                443
            ),
            Ok(vec![
                hp("pypi.org", 443),
                hp("files.pythonhosted.org", 443),
                hp("github.com", 22),
            ])
        );
        let err = parse_host_list("pypi.org, bad host", 443).expect_err("a bad entry");
        assert_eq!(
            err,
            "host entry \"bad host\" is not a valid host name or IP address"
        );
    }

    fn stub(
        answers: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> {
        move |host, port| {
            let addrs: Vec<SocketAddr> = answers
                .iter()
                .filter(|(name, _)| *name == host)
                .filter_map(|(_, ip)| ip.parse::<IpAddr>().ok())
                // A resolver's port is ignored by `decide`: prove it.
                .map(|ip| SocketAddr::new(ip, port.wrapping_add(1)))
                .collect();
            if addrs.is_empty() {
                Err(io::Error::new(io::ErrorKind::NotFound, "no such host"))
            } else {
                Ok(addrs)
            }
        }
    }

    fn policy(list: &str) -> Policy {
        match parse_host_list(list, 443) {
            Ok(allow) => Policy::new(allow),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn decides_names_by_their_addresses() {
        let resolve = stub(&[
            ("pypi.org", "93.184.216.34"),
            ("pypi.org", "2606:2800:220:1:248:1893:25c8:1946"),
            ("private.example", "10.0.0.5"),
            ("loop.example", "127.0.0.1"),
            ("meta.example", "169.254.169.254"),
            ("mapped.example", "::ffff:127.0.0.1"),
            ("ll.example", "fe80::1"),
            ("mixed.example", "93.184.216.34"),
            ("mixed.example", "192.168.1.1"),
            ("cgnat.example", "100.64.0.1"),
            ("nat64.example", "64:ff9b::a00:1"),
        ]);
        let p = policy(
            "pypi.org, private.example, loop.example, meta.example, mapped.example, \
             ll.example, mixed.example, cgnat.example, nat64.example",
        );
        assert_eq!(
            decide(&p, "PyPI.org.", 443, &resolve),
            Ok(vec![
                "93.184.216.34:443".parse().expect("addr"),
                "[2606:2800:220:1:248:1893:25c8:1946]:443"
                    .parse()
                    .expect("addr"),
            ])
        );
        let refused = [
            ("private.example", "10.0.0.5", AddressKind::Private),
            ("loop.example", "127.0.0.1", AddressKind::Loopback),
            ("meta.example", "169.254.169.254", AddressKind::Metadata),
            ("mapped.example", "::ffff:127.0.0.1", AddressKind::Loopback),
            ("ll.example", "fe80::1", AddressKind::LinkLocal),
            ("mixed.example", "192.168.1.1", AddressKind::Private),
            ("cgnat.example", "100.64.0.1", AddressKind::SharedNat),
            ("nat64.example", "64:ff9b::a00:1", AddressKind::Private),
        ];
        for (host, ip, kind) in refused {
            let want = Denied::Address {
                dest: hp(host, 443),
                addr: ip.parse().expect("ip"),
                kind,
            };
            assert_eq!(decide(&p, host, 443, &resolve), Err(want), "{host}");
        }
        let denied = decide(&p, "private.example", 443, &resolve).expect_err("private");
        assert_eq!(
            denied.to_string(),
            "private.example resolves to 10.0.0.5, a private address"
        );
    }

    #[test]
    fn decides_the_list_first() {
        let resolve = stub(&[
            ("pypi.org", "93.184.216.34"),
            ("example.org", "93.184.216.34"),
        ]);
        let p = policy("pypi.org, files.pythonhosted.org");
        let denied = decide(&p, "example.org", 443, &resolve).expect_err("not listed");
        assert_eq!(
            denied.to_string(),
            "example.org:443 is not on the allow-list (allowed: pypi.org:443, files.pythonhosted.org:443)"
        );
        // Exact port, exact host: no subdomains, no suffix tricks.
        for (host, port) in [
            ("pypi.org", 80),
            ("www.pypi.org", 443),
            ("pypi.org.evil.example", 443),
            ("93.184.216.34", 443),
        ] {
            assert!(
                matches!(
                    decide(&p, host, port, &resolve),
                    Err(Denied::NotAllowed { .. })
                ),
                "{host}:{port}"
            );
        }
        let empty = Policy::new(vec![]);
        let denied = decide(&empty, "pypi.org", 443, &resolve).expect_err("empty list");
        assert_eq!(
            denied.to_string(),
            "pypi.org:443 is not on the allow-list (the allow-list is empty)"
        );
        let denied = decide(&p, "files.pythonhosted.org", 443, &resolve).expect_err("nxdomain");
        assert_eq!(
            denied.to_string(),
            "could not resolve files.pythonhosted.org: no such host"
        );
    }

    #[test]
    fn decides_named_addresses() {
        let never = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            Err(io::Error::other("a literal is never resolved"))
        };
        let p = policy(
            "10.0.0.5:8080, [fd12::7]:80, 169.254.169.254:80, [fd00:ec2::254]:80, 127.0.0.1:9000",
        );
        assert_eq!(
            decide(&p, "10.0.0.5", 8080, &never),
            Ok(vec!["10.0.0.5:8080".parse().expect("addr")])
        );
        assert_eq!(
            decide(&p, "[FD12:0::7]", 80, &never),
            Ok(vec!["[fd12::7]:80".parse().expect("addr")])
        );
        assert_eq!(
            decide(&p, "127.0.0.1", 9000, &never),
            Ok(vec!["127.0.0.1:9000".parse().expect("addr")])
        );
        // Exactly that address and port.
        assert!(matches!(
            decide(&p, "10.0.0.5", 8081, &never),
            Err(Denied::NotAllowed { .. })
        ));
        assert!(matches!(
            decide(&p, "10.0.0.6", 8080, &never),
            Err(Denied::NotAllowed { .. })
        ));
        for host in ["169.254.169.254", "fd00:ec2::254"] {
            let denied = decide(&p, host, 80, &never).expect_err("metadata");
            assert!(
                matches!(
                    denied,
                    Denied::Address {
                        kind: AddressKind::Metadata,
                        ..
                    }
                ),
                "{host}"
            );
            assert!(denied.to_string().contains("never reachable"), "{denied}");
        }
    }

    #[test]
    fn decides_localhost_for_its_port_only() {
        let resolve = stub(&[
            ("localhost", "127.0.0.1"),
            ("localhost", "::1"),
            ("evil.example", "127.0.0.1"),
        ]);
        let p = policy("localhost:8000, evil.example:8000");
        assert_eq!(
            decide(&p, "localhost", 8000, &resolve),
            Ok(vec![
                "127.0.0.1:8000".parse().expect("addr"),
                "[::1]:8000".parse().expect("addr"),
            ])
        );
        assert!(matches!(
            decide(&p, "localhost", 8001, &resolve),
            Err(Denied::NotAllowed { .. })
        ));
        // Another name on the list does not inherit localhost's permission.
        assert!(matches!(
            decide(&p, "evil.example", 8000, &resolve),
            Err(Denied::Address {
                kind: AddressKind::Loopback,
                ..
            })
        ));
        // localhost pointing somewhere private is still refused.
        let odd = stub(&[("localhost", "10.1.2.3")]);
        assert!(matches!(
            decide(&p, "localhost", 8000, &odd),
            Err(Denied::Address {
                kind: AddressKind::Private,
                ..
            })
        ));
    }

    #[test]
    fn classifies_addresses() {
        use AddressKind::*;
        let cases = [
            ("93.184.216.34", Public),
            ("8.8.8.8", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("10.255.0.1", Private),
            ("100.63.255.255", Public),
            ("100.64.0.0", SharedNat),
            ("100.127.255.255", SharedNat),
            ("100.128.0.0", Public),
            ("100.100.100.200", Metadata),
            ("127.8.9.10", Loopback),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("172.15.0.1", Public),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.0.0.8", Reserved),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("192.168.0.1", Private),
            ("198.18.0.1", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Broadcast),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:93.184.216.34", Public),
            ("::ffff:0:192.168.1.1", Private),
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("::2", Reserved),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::5db8:d822", Public),
            ("2002:a00:1::1", Private),
            ("2002:5db8:d822::1", Public),
            ("fc00::1", Private),
            ("fd00::1", Private),
            ("fd00:ec2::254", Metadata),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("2606:4700::1111", Public),
            ("2a00:1450:4001:82b::200e", Public),
        ];
        for (ip, want) in cases {
            let addr: IpAddr = ip.parse().expect("ip");
            assert_eq!(classify(addr), want, "{ip}");
        }
    }

    #[test]
    fn formats_caps() {
        assert_eq!(
            Denied::Capped {
                cap: Cap::Bytes(1 << 30)
            }
            .to_string(),
            "the job has transferred all 1 GiB its network access allows"
        );
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
        assert_eq!(
            Cap::Connections(512).to_string(),
            "the job has opened all 512 connections its network access allows"
        );
    }
}
