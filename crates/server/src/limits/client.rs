//! Who a request comes from, as every per-client limit counts it: the client's address
//! (the TCP peer, or the right-most untrusted `X-Forwarded-For` entry behind trusted
//! proxies), keyed as the address itself for IPv4 and as its network for IPv6 (a /64 by
//! default: one subscriber's allocation, inside which an address costs nothing to change).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

/// The prefix length IPv6 clients are keyed by unless configured.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The key of one client for per-address limits: `192.0.2.7` or `2001:db8:1:2::/64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(String);

impl ClientKey {
    /// `ip` as the limits count it: IPv4 (and IPv4-mapped IPv6) by address, IPv6 by its
    /// first `v6_prefix` bits (clamped to 0..=128).
    pub fn of(ip: IpAddr, v6_prefix: u8) -> ClientKey {
        match canonical(ip) {
            IpAddr::V4(v4) => ClientKey(v4.to_string()),
            IpAddr::V6(v6) => ClientKey(v6_network(v6, v6_prefix).to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn v6_network(ip: Ipv6Addr, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(ip, prefix.min(128)).trunc()
}

/// The client's address: the peer, unless the peer is a trusted proxy, then the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = canonical(peer);
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last = peer;
    for part in header.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => {
                let ip = canonical(ip);
                if !is_trusted(&ip) {
                    return ip;
                }
                last = ip;
            }
            // A garbled entry: nothing left of it can be believed.
            Err(_) => return last,
        }
    }
    last
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let table: &[(&str, Option<&str>, &str)] = &[
            ("203.0.113.9", Some("1.2.3.4"), "203.0.113.9"),
            ("10.0.0.1", None, "10.0.0.1"),
            ("10.0.0.1", Some("1.2.3.4"), "1.2.3.4"),
            ("10.0.0.1", Some("6.6.6.6, 1.2.3.4"), "1.2.3.4"),
            ("10.0.0.1", Some("1.2.3.4, 10.0.0.7"), "1.2.3.4"),
            ("10.0.0.1", Some("10.0.0.9, 10.0.0.7"), "10.0.0.9"),
            ("10.0.0.1", Some("garbage, 10.0.0.7"), "10.0.0.7"),
            ("::1", Some("2001:db8::1"), "2001:db8::1"),
            ("::ffff:10.0.0.1", Some("1.2.3.4"), "1.2.3.4"),
        ];
        for (peer, xff, want) in table {
            assert_eq!(
                client_ip(ip(peer), *xff, &trusted),
                ip(want),
                "{peer} {xff:?}"
            );
        }
    }

    #[test]
    fn keys() {
        let key = |s: &str, prefix: u8| ClientKey::of(s.parse().unwrap(), prefix).0;
        let table: &[(&str, u8, &str)] = &[
            ("192.0.2.7", 64, "192.0.2.7"),
            ("::ffff:192.0.2.7", 64, "192.0.2.7"),
            ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"),
            ("2001:db8:1:2::1", 64, "2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", 64, "2001:db8:1:3::/64"),
            ("2001:db8:1:2ff::1", 56, "2001:db8:1:200::/56"),
            ("2001:db8::1", 128, "2001:db8::1/128"),
            ("2001:db8::1", 200, "2001:db8::1/128"),
            ("::1", 64, "::/64"),
        ];
        for (ip, prefix, want) in table {
            assert_eq!(key(ip, *prefix), *want, "{ip}/{prefix}");
        }
    }
}
