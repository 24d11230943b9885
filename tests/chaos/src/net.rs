//! The network: each worker in a network namespace of its own behind a
//! veth link on a bridge (as `tests/netns/cluster.sh` does), so one
//! worker's link can be cut and restored; or everything on 127.0.0.1.
//!
//! ```text
//!  host: bridge shcRUN 10.98.N.1 ── Redis, Sentinels, S3, drivers listen/run here
//!        ├─ veth ── namespace shoal-chaos-RUN-w1: eth0 10.98.N.11 ── worker w1
//!        ├─ veth ── namespace shoal-chaos-RUN-w2: eth0 10.98.N.12 ── worker w2
//!        └─ …
//! ```
//!
//! Every name is recorded in the run's directory before it is created,
//! so a later run can remove what a killed run left behind.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Where a run records its namespaces (one name a line).
const NETNS_RECORD: &str = "netns";
/// Where a run records its links.
const LINKS_RECORD: &str = "links";

/// The run's network.
pub struct Network {
    host: IpAddr,
    namespaces: Vec<String>,
    links: Vec<String>,
}

impl Network {
    /// Every process on 127.0.0.1; nothing can be cut.
    pub fn loopback() -> Network {
        Network {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            namespaces: Vec::new(),
            links: Vec::new(),
        }
    }

    /// A bridge and one namespace per worker (needs root), recorded in
    /// `state`.
    pub fn create(run: u32, workers: usize, state: &Path) -> Result<Network> {
        let net = pick_subnet(run)?;
        let host = IpAddr::V4(Ipv4Addr::new(10, 98, net, 1));
        let bridge = format!("shc{run}");
        let mut network = Network {
            host,
            namespaces: Vec::new(),
            links: Vec::new(),
        };
        record(state, LINKS_RECORD, &bridge)?;
        network.links.push(bridge.clone());
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{host}/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for w in 0..workers {
            let ns = format!("shoal-chaos-{run}-w{}", w + 1);
            let (outer, inner) = (format!("scv{run}w{}", w + 1), format!("scp{run}w{}", w + 1));
            record(state, NETNS_RECORD, &ns)?;
            network.namespaces.push(ns.clone());
            ip(&["netns", "add", &ns])?;
            record(state, LINKS_RECORD, &outer)?;
            network.links.push(outer.clone());
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &bridge, "up"])?;
            in_ns(&ns, &["link", "set", "lo", "up"])?;
            in_ns(&ns, &["link", "set", &inner, "name", "eth0"])?;
            let addr = format!("10.98.{net}.{}/24", 11 + w);
            in_ns(&ns, &["addr", "add", &addr, "dev", "eth0"])?;
            in_ns(&ns, &["link", "set", "eth0", "up"])?;
        }
        Ok(network)
    }

    /// The address servers listen on and clients connect to.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    /// Whether workers run in namespaces (and can be cut off).
    pub fn isolated(&self) -> bool {
        !self.namespaces.is_empty()
    }

    /// The command that runs a program in worker `w`'s namespace.
    pub fn launcher(&self, w: usize) -> Vec<String> {
        match self.namespaces.get(w) {
            Some(ns) => ["ip", "netns", "exec", ns].map(String::from).to_vec(),
            None => Vec::new(),
        }
    }

    /// Takes worker `w`'s link down.
    pub fn cut(&self, w: usize) -> Result<()> {
        in_ns(self.namespace(w)?, &["link", "set", "eth0", "down"])
    }

    /// Brings worker `w`'s link back up.
    pub fn restore(&self, w: usize) -> Result<()> {
        in_ns(self.namespace(w)?, &["link", "set", "eth0", "up"])
    }

    fn namespace(&self, w: usize) -> Result<&str> {
        match self.namespaces.get(w) {
            Some(ns) => Ok(ns),
            None => bail!("worker w{} has no network namespace", w + 1),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        remove(&self.namespaces, &self.links);
    }
}

/// Removes what a run recorded in `state` (a run that died before its
/// teardown).
pub fn remove_recorded(state: &Path) {
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(state.join(name))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    };
    remove(&read(NETNS_RECORD), &read(LINKS_RECORD));
}

fn remove(namespaces: &[String], links: &[String]) {
    for ns in namespaces {
        let _ = ip(&["netns", "del", ns]);
    }
    for link in links.iter().rev() {
        let _ = ip(&["link", "del", link]);
    }
}

fn record(state: &Path, file: &str, name: &str) -> Result<()> {
    use std::io::Write;
    let path: PathBuf = state.join(file);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("recording {name} in {}", path.display()))?;
    writeln!(out, "{name}").with_context(|| format!("recording {name} in {}", path.display()))
}

/// A /24 `10.98.N.0` no interface of this host uses yet.
fn pick_subnet(run: u32) -> Result<u8> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .context("running `ip -o -4 addr show` (iproute2; scripts/test.sh installs it)")?;
    let used = String::from_utf8_lossy(&out.stdout);
    (0..250u32)
        .map(|i| ((run + i) % 250 + 1) as u8)
        .find(|n| !used.contains(&format!(" 10.98.{n}.")))
        .context("no free 10.98.N.0/24 subnet")
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("running ip {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn in_ns(ns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["netns", "exec", ns, "ip"];
    all.extend_from_slice(args);
    ip(&all)
}
