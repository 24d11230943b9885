//! The ends of a program's pipes, readable and writable with a way out.
//!
//! A blocking read on a pipe returns only when every writer has closed
//! it. Killing the program's process group closes almost all of them, but
//! a process that left the group (or a grandchild it handed the pipe to)
//! could keep one open forever, and the task's thread would hang with it.
//! So every read and write waits with `poll(2)` in short slices and gives
//! up once the runner sets the shared `abandon` flag.
//!
//! Programs often write one short line per `write(2)` (Python with
//! `PYTHONUNBUFFERED`, `grep --line-buffered`, anything that flushes per
//! line). Waking up for each would cost a `poll` and a `read` per line,
//! on the cores the programs need: so the pipes are enlarged and a read
//! that found only a little waits a moment before the next, letting the
//! program fill the pipe meanwhile. A fast writer fills it beyond that
//! little within the moment, and is then read without waiting.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long one `poll` waits before the abandon flag is checked again.
const SLICE_MS: libc::c_int = 100;
/// Bytes a pipe holds (the default is 64 KiB; Linux lets an unprivileged
/// process go up to `/proc/sys/fs/pipe-max-size`, 1 MiB by default).
const PIPE_BYTES: libc::c_int = 1 << 20;
/// A read of fewer bytes than this waits [`COALESCE`] before the next.
const SMALL_READ: usize = 16 << 10;
/// How long to let a slow writer fill the pipe: what it writes meanwhile
/// fits the pipe unless it writes faster than `SMALL_READ` per moment,
/// and then reads are not small.
const COALESCE: Duration = Duration::from_millis(1);

/// Enlarges a pipe (best effort: a refusal leaves the default size).
fn enlarge(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES);
    }
}

/// Puts our end of a pipe in non-blocking mode: a blocking write of a
/// large buffer would otherwise wait inside the kernel until the program
/// took all of it, out of reach of the abandon flag.
fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

fn wait_ready(fd: &OwnedFd, events: libc::c_short, abandon: &AtomicBool) -> io::Result<()> {
    loop {
        if abandon.load(Ordering::Relaxed) {
            return Err(io::Error::other(
                "the task ended while a process outside its group still held the pipe",
            ));
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, SLICE_MS) };
        if rc > 0 {
            return Ok(());
        }
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// The read end of a program's stdout or stderr.
pub struct PipeReader<'a> {
    fd: OwnedFd,
    abandon: &'a AtomicBool,
    /// Whether the last read was small (see the module docs).
    last_small: bool,
}

impl<'a> PipeReader<'a> {
    pub(crate) fn new(fd: impl Into<OwnedFd>, abandon: &'a AtomicBool) -> Self {
        let fd = fd.into();
        set_nonblocking(&fd);
        enlarge(&fd);
        PipeReader {
            fd,
            abandon,
            last_small: false,
        }
    }
}

impl Read for PipeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.last_small && buf.len() > SMALL_READ {
            std::thread::sleep(COALESCE);
        }
        loop {
            wait_ready(&self.fd, libc::POLLIN, self.abandon)?;
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                self.last_small = (n as usize) < SMALL_READ;
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if !matches!(
                err.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
            ) {
                return Err(err);
            }
        }
    }
}

/// The write end of a program's stdin. A program that stops reading is
/// not an error by itself: writes then fail with `BrokenPipe`, and
/// [`PipeWriter::closed_by_reader`] tells the runner that this is why.
pub struct PipeWriter<'a> {
    fd: Option<OwnedFd>,
    abandon: &'a AtomicBool,
    closed_by_reader: bool,
    written: u64,
}

impl<'a> PipeWriter<'a> {
    pub(crate) fn new(fd: Option<OwnedFd>, abandon: &'a AtomicBool) -> Self {
        if let Some(fd) = &fd {
            set_nonblocking(fd);
            enlarge(fd);
        }
        PipeWriter {
            fd,
            abandon,
            closed_by_reader: false,
            written: 0,
        }
    }

    /// Whether the program closed its stdin (or exited) before taking
    /// everything.
    pub fn closed_by_reader(&self) -> bool {
        self.closed_by_reader
    }

    /// Bytes the program took.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Closes the pipe: the program reads end of input.
    pub fn close(&mut self) {
        self.fd = None;
    }
}

impl Write for PipeWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(fd) = &self.fd else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        loop {
            wait_ready(fd, libc::POLLOUT, self.abandon)?;
            // SAFETY: buf is valid for buf.len() bytes. SIGPIPE is ignored
            // in Rust programs, so a closed pipe is EPIPE, not a signal.
            let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
            if n >= 0 {
                self.written += n as u64;
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => continue,
                io::ErrorKind::BrokenPipe => {
                    self.closed_by_reader = true;
                    self.fd = None;
                    return Err(err);
                }
                _ => return Err(err),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
