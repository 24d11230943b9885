//! Redis Sentinels watching a primary, for failover tests.

use std::time::Duration;

use crate::poll::eventually;
use crate::redis_server::RedisServer;
use crate::scratch::scratch_dir;

/// How long a group may take to see all its peers and replicas.
const FORMING_DEADLINE: Duration = Duration::from_secs(30);

/// Redis Sentinels on free loopback ports watching one primary, killed
/// (and their config directory removed) on drop.
pub struct SentinelGroup {
    sentinels: Vec<RedisServer>,
    name: String,
    /// The Sentinels' config files (they rewrite them); removed last.
    _dir: tempfile::TempDir,
}

impl SentinelGroup {
    /// Starts `count` Sentinels monitoring `primary` as `name`, with a
    /// quorum of a majority and fast failure detection (1 s), and waits
    /// until every one knows `replicas` replicas and all other Sentinels,
    /// so that a failover can be voted on.
    ///
    /// # Panics
    /// When a Sentinel does not start or the group does not form in time.
    pub fn start(primary: &RedisServer, name: &str, count: usize, replicas: usize) -> Self {
        let dir = scratch_dir("shoal-sentinel");
        let quorum = count / 2 + 1;
        // Sentinels listen where the primary does, so every client that
        // reaches the primary reaches them.
        let host = (primary.host() != std::net::Ipv4Addr::LOCALHOST).then(|| primary.host());
        let sentinels = (0..count)
            .map(|i| {
                let conf = dir.path().join(format!("sentinel-{i}.conf"));
                let mut text = format!(
                    "sentinel monitor {name} {host} {port} {quorum}\n\
                     sentinel down-after-milliseconds {name} 1000\n\
                     sentinel failover-timeout {name} 5000\n",
                    host = primary.host(),
                    port = primary.port()
                );
                if let Some(host) = host {
                    text.push_str(&format!("sentinel announce-ip {host}\n"));
                }
                std::fs::write(&conf, text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
                RedisServer::start_sentinel(&conf, host)
            })
            .collect();
        let group = SentinelGroup {
            sentinels,
            name: name.to_string(),
            _dir: dir,
        };
        group.wait_formed(count - 1, replicas);
        group
    }

    /// `redis+sentinel://HOST:P1,HOST:P2,.../NAME`, HOST being the
    /// primary's address.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("{}:{}", s.host(), s.port()))
            .collect();
        format!("redis+sentinel://{}/{}", nodes.join(","), self.name)
    }

    /// The address of the primary the first Sentinel names now.
    ///
    /// # Panics
    /// When the Sentinel names no primary.
    pub fn primary_addr(&self) -> (String, u16) {
        let fields = self.ask(0, &["get-master-addr-by-name"]);
        match (fields.first(), fields.get(1).and_then(|p| p.parse().ok())) {
            (Some(host), Some(port)) => (host.clone(), port),
            _ => panic!("no primary named {}: {fields:?}", self.name),
        }
    }

    /// The port of the primary the first Sentinel names now.
    ///
    /// # Panics
    /// When the Sentinel names no primary.
    pub fn primary_port(&self) -> u16 {
        self.primary_addr().1
    }

    fn wait_formed(&self, others: usize, replicas: usize) {
        let what = format!("Sentinels to see {others} peers and {replicas} replicas");
        eventually(FORMING_DEADLINE, &what, || {
            (0..self.sentinels.len()).all(|i| {
                let info = self.ask(i, &["master"]);
                let field = |key: &str| -> usize {
                    info.iter()
                        .position(|f| f == key)
                        .and_then(|at| info.get(at + 1))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                field("num-other-sentinels") >= others && field("num-slaves") >= replicas
            })
        });
    }

    /// `SENTINEL <args> NAME` on Sentinel `i`, as a flat list of strings.
    fn ask(&self, i: usize, args: &[&str]) -> Vec<String> {
        let url = self.sentinels[i].url();
        let mut conn = redis::Client::open(url)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("cannot reach Sentinel {i}: {e}"));
        redis::cmd("SENTINEL")
            .arg(args)
            .arg(&self.name)
            .query::<Vec<String>>(&mut conn)
            .unwrap_or_default()
    }
}
