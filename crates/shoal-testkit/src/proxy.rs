//! [`ReplyDropper`]: a TCP proxy in front of a Redis server that loses one
//! reply on purpose.
//!
//! A command whose reply is lost may still have been carried out: Redis
//! ran it and wrote the answer, and the client saw only its connection
//! drop (or, stopped by SIGSTOP inside the read, woke with EINTR). A
//! client that retries then runs it twice. This proxy makes that exact:
//! it passes bytes both ways and, the first time a reply answers a command
//! the test's predicate picks, closes the connection instead of passing
//! the reply on.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Chooses the reply to drop: `(command, reply)`, the bytes of the last
/// command sent on the connection and of the reply's first read.
type Pick = dyn Fn(&[u8], &[u8]) -> bool + Send + Sync;

/// A proxy to a Redis server on loopback that drops one reply (see the
/// module). It serves until the test process ends.
pub struct ReplyDropper {
    port: u16,
    dropped: Arc<Mutex<Option<Vec<u8>>>>,
}

impl ReplyDropper {
    /// Proxies to the server on loopback port `server`, dropping the first
    /// reply for which `pick(command, reply)` holds.
    ///
    /// # Panics
    /// When it cannot listen on loopback.
    pub fn start(
        server: u16,
        pick: impl Fn(&[u8], &[u8]) -> bool + Send + Sync + 'static,
    ) -> ReplyDropper {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy on loopback");
        let port = listener.local_addr().expect("the proxy's address").port();
        let dropped = Arc::new(Mutex::new(None));
        let relay = Relay {
            pick: Arc::new(pick),
            armed: Arc::new(AtomicBool::new(true)),
            dropped: dropped.clone(),
        };
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", server)) else {
                    continue;
                };
                let relay = relay.clone();
                std::thread::spawn(move || relay.serve(client, upstream));
            }
        });
        ReplyDropper { port, dropped }
    }

    /// `redis://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The reply it dropped, once it has (its first read).
    pub fn dropped(&self) -> Option<Vec<u8>> {
        self.dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What every connection of one proxy shares.
#[derive(Clone)]
struct Relay {
    pick: Arc<Pick>,
    /// Until a reply is dropped.
    armed: Arc<AtomicBool>,
    dropped: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Relay {
    fn serve(self, client: TcpStream, upstream: TcpStream) {
        let last_command = Arc::new(Mutex::new(Vec::new()));
        let (Ok(mut from_client), Ok(mut to_upstream)) = (client.try_clone(), upstream.try_clone())
        else {
            return;
        };
        let command = last_command.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = from_client.read(&mut buf) {
                // Recorded before it is sent, so its reply finds it.
                *command.lock().unwrap_or_else(|p| p.into_inner()) = buf[..n].to_vec();
                if to_upstream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to_upstream.shutdown(Shutdown::Both);
        });
        let (mut from_upstream, mut to_client) = (upstream, client);
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from_upstream.read(&mut buf) {
            let reply = &buf[..n];
            let picked = {
                let command = last_command.lock().unwrap_or_else(|p| p.into_inner());
                self.armed.load(Ordering::SeqCst) && (self.pick)(&command, reply)
            };
            if picked && self.armed.swap(false, Ordering::SeqCst) {
                *self.dropped.lock().unwrap_or_else(|p| p.into_inner()) = Some(reply.to_vec());
                break;
            }
            if to_client.write_all(reply).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_upstream.shutdown(Shutdown::Both);
    }
}

/// Whether `needle` occurs in `haystack`: for predicates.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
