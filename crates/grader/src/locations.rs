//! Where Gauntlet keeps what outlives one command on this machine: the cache of the
//! local commands (`grade`, `exercises check`: prepared layers and job folders) and the
//! prepared toolchains, which every command and the service share.
//!
//! As root: `/var/cache/gauntlet` (its parents are world-traversable, so the jail's user
//! reaches what is bound from below it, wherever the command is started). Otherwise:
//! `$XDG_CACHE_HOME/gauntlet`, or `~/.cache/gauntlet` (rootless jails run as the caller,
//! who can reach their own home). `--toolchains-dir` / `GAUNTLET_TOOLCHAINS_DIR` and
//! `--data-dir` / `GAUNTLET_DATA_DIR` override them.

use std::path::PathBuf;

/// The machine-wide cache folder as root.
pub const SYSTEM_CACHE: &str = "/var/cache/gauntlet";

/// The cache folder for this user: [`SYSTEM_CACHE`] as root, else the XDG cache.
pub fn cache_dir() -> PathBuf {
    cache_dir_for(
        running_as_root(),
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// Where prepared toolchains live by default: `<cache dir>/toolchains`.
pub fn default_toolchains_dir() -> PathBuf {
    cache_dir().join("toolchains")
}

/// Root runs jails as the dedicated [`gauntlet_sandbox::ROOT_MODE_HOST_ID`]; anyone
/// else runs them as themselves.
fn running_as_root() -> bool {
    gauntlet_sandbox::jail_host_ids().0 == gauntlet_sandbox::ROOT_MODE_HOST_ID
}

fn cache_dir_for(root: bool, xdg: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    if root {
        return PathBuf::from(SYSTEM_CACHE);
    }
    // The XDG spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(dir) = xdg.filter(|d| d.is_absolute()) {
        return dir.join("gauntlet");
    }
    match home.filter(|h| h.is_absolute()) {
        Some(home) => home.join(".cache").join("gauntlet"),
        // No home at all (a bare service account): the system cache still names one
        // place; creating it then fails with a message naming it.
        None => PathBuf::from(SYSTEM_CACHE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let p = |s: &str| Some(PathBuf::from(s));
        let cases = [
            (true, p("/x"), p("/home/ada"), "/var/cache/gauntlet"),
            (false, p("/x/cache"), p("/home/ada"), "/x/cache/gauntlet"),
            (
                false,
                p("relative"),
                p("/home/ada"),
                "/home/ada/.cache/gauntlet",
            ),
            (false, None, p("/home/ada"), "/home/ada/.cache/gauntlet"),
            (false, None, None, "/var/cache/gauntlet"),
        ];
        for (root, xdg, home, want) in cases {
            assert_eq!(
                cache_dir_for(root, xdg.clone(), home.clone()),
                PathBuf::from(want),
                "{root} {xdg:?} {home:?}"
            );
        }
    }
}
