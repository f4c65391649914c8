//! A jail's one way out: a fresh network namespace with only `lo`, and the egress
//! proxy (egress.rs) listening inside it at [`PROXY_ADDR`]. A jail that joins the
//! namespace has no route and no DNS; all it can do is ask the proxy, which resolves
//! names itself and connects from the host to the `host:port` pairs of its policy
//! only. Learner test runs never get one: only a dependency install (deps.rs) and a
//! git clone (git.rs) do, each with the operator's allow-list for that phase.

use std::net::SocketAddr;
use std::sync::Arc;

use gauntlet_sandbox::{NetNs, Network, Spec};

use crate::egress::{Counters, Policy, Proxy, ProxyStats};
use crate::phase;

/// Where a jail with egress finds the proxy, inside its own namespace.
pub const PROXY_ADDR: &str = "127.0.0.1:3128";
/// The proxy's URL, as the job's environment gives it.
pub const PROXY_URL: &str = "http://127.0.0.1:3128";

/// An open way out for one jail: the namespace to join and the proxy serving it.
/// Dropping it (or [`Gateway::close`]) stops the proxy and closes every tunnel.
pub struct Gateway {
    netns: NetNs,
    proxy: Proxy,
}

impl Gateway {
    /// Opens a namespace with the proxy inside, serving `policy` for `job` (the id put
    /// on every decision the proxy logs). Needs root: the namespace must belong to the
    /// host, not to a jail (rootless, the error says so).
    pub fn open(policy: Policy, job: &str, counters: Arc<Counters>) -> Result<Gateway, String> {
        if gauntlet_sandbox::rootless() {
            return Err(
                "egress needs root: the proxy listens in a network namespace the \
                        host creates (rootless, use an offline wheelhouse or npm cache)"
                    .into(),
            );
        }
        let addr: SocketAddr = PROXY_ADDR.parse().expect("a valid address");
        let (netns, listener) = NetNs::with_listener(addr)
            .map_err(|e| format!("cannot open a network namespace for the proxy: {e}"))?;
        let proxy = Proxy::serve(listener, policy, job.to_owned(), counters)
            .map_err(|e| format!("cannot start the egress proxy: {e}"))?;
        Ok(Gateway { netns, proxy })
    }

    /// Runs `spec` with this way out (the gateway's network, the proxy's environment
    /// and the host's CA certificates), keeping the last `keep` bytes of its output,
    /// then stops the proxy and says what it allowed and refused.
    pub fn run(
        self,
        mut spec: Spec,
        keep: usize,
    ) -> (Result<phase::Ran, gauntlet_sandbox::Error>, ProxyStats) {
        spec.network = self.network();
        spec.env.extend(proxy_env());
        spec.ro_binds.push(ca_bind());
        let ran = phase::run(&spec, keep);
        (ran, self.close())
    }

    /// The network a jail using this gateway joins.
    pub fn network(&self) -> Network {
        Network::Join(self.netns.clone())
    }

    /// Stops the proxy and says what it allowed and refused.
    pub fn close(self) -> ProxyStats {
        self.proxy.stop()
    }
}

/// Where a jail with egress finds the host's CA certificates (the sandbox provides
/// `/etc` itself), and the file of them all.
pub const CA_INSIDE: &str = "/opt/gauntlet/ca";
pub const CA_FILE: &str = "/opt/gauntlet/ca/ca-certificates.crt";

/// The host's CA certificates, read-only, for TLS through the proxy's tunnels; the
/// environment that points OpenSSL, curl (git) and python at them is in
/// [`proxy_env`].
pub fn ca_bind() -> gauntlet_sandbox::Bind {
    gauntlet_sandbox::Bind {
        host: "/etc/ssl/certs".into(),
        inside: CA_INSIDE.into(),
    }
}

/// The environment that sends HTTP clients to the proxy: curl and git, pip (through
/// requests), npm, and anything that reads the usual `*_PROXY` variables.
pub fn proxy_env() -> Vec<(String, String)> {
    [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "PIP_PROXY",
        "npm_config_proxy",
        "npm_config_https_proxy",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), PROXY_URL.to_owned()))
    .chain(
        [
            ("SSL_CERT_FILE", CA_FILE),
            ("SSL_CERT_DIR", CA_INSIDE),
            ("GIT_SSL_CAINFO", CA_FILE),
            ("PIP_CERT", CA_FILE),
            ("REQUESTS_CA_BUNDLE", CA_FILE),
            // Node (npm) trusts its own bundle unless told: add the host's, which may
            // hold a site's own CA (a registry mirror, an inspecting relay).
            ("NODE_EXTRA_CA_CERTS", CA_FILE),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .collect()
}
