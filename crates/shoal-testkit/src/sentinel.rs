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
        let sentinels = (0..count)
            .map(|i| {
                let conf = dir.path().join(format!("sentinel-{i}.conf"));
                let text = format!(
                    "sentinel monitor {name} 127.0.0.1 {port} {quorum}\n\
                     sentinel down-after-milliseconds {name} 1000\n\
                     sentinel failover-timeout {name} 5000\n",
                    port = primary.port()
                );
                std::fs::write(&conf, text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
                RedisServer::start_sentinel(&conf)
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

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,.../NAME`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        format!("redis+sentinel://{}/{}", nodes.join(","), self.name)
    }

    /// The port of the primary the first Sentinel names now.
    ///
    /// # Panics
    /// When the Sentinel names no primary.
    pub fn primary_port(&self) -> u16 {
        let fields = self.ask(0, &["get-master-addr-by-name"]);
        fields
            .get(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no primary named {}: {fields:?}", self.name))
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
