//! Pre-opened listeners for preview1 modules (`wharf run -p` with a wasm32-wasip1 server).
//!
//! Preview1 cannot create sockets; a server gets its listening socket from the host, as with
//! wasmtime's `--tcplisten` and systemd socket activation: wharf binds each published host
//! address and hands the listeners to the guest as file descriptors 3, 4, ... (in `-p` order),
//! with `LISTEN_FDS=N` in its environment. The guest `accept`s connections and reads, writes,
//! `send`s, `recv`s, `shutdown`s and closes them. `poll`/`select` on these sockets is not
//! supported (the guest blocks in `accept` and `recv`, or uses non-blocking mode).
//!
//! wasmtime-wasi's preview1 has no sockets (its `sock_accept` answers `ENOTSOCK`), so wharf
//! shadows the preview1 functions that touch descriptors: calls on wharf's sockets are served
//! here, every other descriptor goes to wasmtime-wasi's own function. So that wasmtime-wasi
//! never hands out a listener's number for a file, each listener's number is held in its table
//! by an empty, read-only placeholder directory that the guest is never told about (its
//! `fd_prestat_get` says "not a directory preopen", and wasi-libc skips it). Accepted
//! connections are numbered from [`CONNECTIONS_START`], far above any number wasmtime-wasi
//! gives out.
//!
//! A guest blocked in `accept` or `recv` still stops on `wharf stop` and timeouts: waits are
//! sliced, and the stop request is checked between slices.

mod shadows;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use wasmtime::Trap;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::network::{self, NetworkMode};
use crate::run::RunError;
use crate::SandboxPolicy;
use crate::StopHandle;
pub(crate) use shadows::add_to_linker;

/// The first descriptor number a listener gets (after stdin, stdout and stderr), as in
/// systemd's `SD_LISTEN_FDS_START`.
pub(crate) const LISTENERS_START: u32 = 3;
/// The first descriptor number of an accepted connection.
pub(crate) const CONNECTIONS_START: u32 = 1 << 20;
/// How long one slice of a blocking wait lasts before the stop request is looked at.
const WAIT_SLICE_MS: i32 = 100;
/// The most bytes one read or write moves (the guest loops for more, as with any socket).
const MAX_TRANSFER: usize = 1 << 20;

/// Binds every published host address for a preview1 guest, in `-p` order; none with
/// `--network none`.
pub(crate) fn bind(policy: &SandboxPolicy) -> Result<Vec<TcpListener>, RunError> {
    if policy.network == NetworkMode::None {
        return Ok(Vec::new());
    }
    let bound: Result<Vec<_>, String> = policy.ports.iter().map(network::bind_published).collect();
    bound.map_err(|e| RunError::Internal(anyhow::anyhow!(e)))
}

/// Holds descriptors 3..3+`n` in wasmtime-wasi's table for the listeners: `n` read-only
/// preopens of an empty directory, added before the mounts. The directory is removed at once;
/// the preopens keep their handles, so nothing is left on the host and nothing can be created.
pub(crate) fn hold_descriptors(wasi: &mut WasiCtxBuilder, n: usize) -> Result<(), RunError> {
    let empty = tempfile::tempdir()
        .map_err(|e| anyhow::anyhow!("cannot make a temporary directory: {e}"))?;
    for i in 0..n {
        let fd = LISTENERS_START as usize + i;
        let guest_path = format!("/.wharf-listener-{fd}");
        wasi.preopened_dir(empty.path(), guest_path, FsPerms::ReadOnly)
            .map_err(|e| anyhow::anyhow!("cannot prepare listener {fd}: {e}"))?;
    }
    Ok(())
}

/// Preview1 error numbers (`__WASI_ERRNO_*`).
mod errno {
    pub const SUCCESS: i32 = 0;
    pub const AGAIN: i32 = 6;
    pub const CONNABORTED: i32 = 13;
    pub const CONNRESET: i32 = 15;
    pub const FAULT: i32 = 21;
    pub const INVAL: i32 = 28;
    pub const IO: i32 = 29;
    pub const NOTCONN: i32 = 53;
    pub const NOTSOCK: i32 = 57;
    pub const PIPE: i32 = 64;
}
const FILETYPE_SOCKET_STREAM: u8 = 6;
const FDFLAGS_NONBLOCK: u16 = 1 << 2;
const SDFLAGS_RD: i32 = 1;
const SDFLAGS_WR: i32 = 2;
/// Every preview1 right: the sockets are the guest's own.
const ALL_RIGHTS: u64 = (1 << 30) - 1;

enum Socket {
    Listener(TcpListener),
    Stream(TcpStream),
}

struct Entry {
    socket: Socket,
    nonblocking: bool,
}

impl Entry {
    fn fd(&self) -> RawFd {
        match &self.socket {
            Socket::Listener(l) => l.as_raw_fd(),
            Socket::Stream(s) => s.as_raw_fd(),
        }
    }
}

/// The sockets of one preview1 guest, by descriptor number.
pub(crate) struct P1Sockets {
    entries: HashMap<u32, Entry>,
    next_connection: u32,
    stop: StopHandle,
    /// wasmtime-wasi's functions for every other descriptor, once instantiated.
    originals: Option<shadows::Originals>,
}

impl P1Sockets {
    /// Takes the bound `listeners`; the first becomes descriptor [`LISTENERS_START`].
    pub(crate) fn new(listeners: Vec<TcpListener>, stop: StopHandle) -> std::io::Result<Self> {
        let mut entries = HashMap::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            // Non-blocking underneath; blocking for the guest is emulated with sliced waits.
            listener.set_nonblocking(true)?;
            entries.insert(
                LISTENERS_START + i as u32,
                Entry {
                    socket: Socket::Listener(listener),
                    nonblocking: false,
                },
            );
        }
        Ok(P1Sockets {
            entries,
            next_connection: CONNECTIONS_START,
            stop,
            originals: None,
        })
    }

    /// Whether the guest was handed no listener (then nothing needs shadowing).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn is_listener(&self, fd: i32) -> bool {
        matches!(
            self.entries.get(&(fd as u32)),
            Some(Entry {
                socket: Socket::Listener(_),
                ..
            })
        )
    }

    fn is_stream(&self, fd: i32) -> bool {
        matches!(
            self.entries.get(&(fd as u32)),
            Some(Entry {
                socket: Socket::Stream(_),
                ..
            })
        )
    }

    /// Forgets socket `fd`; `Some(true)` when it was a listener, `None` when it is not wharf's.
    fn close(&mut self, fd: i32) -> Option<bool> {
        let entry = self.entries.remove(&(fd as u32))?;
        Some(matches!(entry.socket, Socket::Listener(_)))
    }

    /// Preview1's `fdstat` of socket `fd`, as the guest reads it: filetype at 0, flags at 2,
    /// base and inheriting rights at 8 and 16.
    fn fdstat(&self, fd: i32) -> Option<[u8; 24]> {
        let entry = self.entries.get(&(fd as u32))?;
        let mut stat = [0u8; 24];
        stat[0] = FILETYPE_SOCKET_STREAM;
        let flags = if entry.nonblocking {
            FDFLAGS_NONBLOCK
        } else {
            0
        };
        stat[2..4].copy_from_slice(&flags.to_le_bytes());
        stat[8..16].copy_from_slice(&ALL_RIGHTS.to_le_bytes());
        stat[16..24].copy_from_slice(&ALL_RIGHTS.to_le_bytes());
        Some(stat)
    }

    /// Sets socket `fd`'s flags (only non-blocking means anything); `None` when not wharf's.
    fn set_flags(&mut self, fd: i32, flags: i32) -> Option<()> {
        let entry = self.entries.get_mut(&(fd as u32))?;
        entry.nonblocking = flags as u16 & FDFLAGS_NONBLOCK != 0;
        Some(())
    }

    /// Shuts down one or both directions of connection `fd`; returns an errno.
    fn shutdown(&self, fd: i32, how: i32) -> i32 {
        let how = match how & (SDFLAGS_RD | SDFLAGS_WR) {
            SDFLAGS_RD => Shutdown::Read,
            SDFLAGS_WR => Shutdown::Write,
            0 => return errno::INVAL,
            _ => Shutdown::Both,
        };
        match self.entries.get(&(fd as u32)).map(|e| &e.socket) {
            Some(Socket::Stream(stream)) => match stream.shutdown(how) {
                Ok(()) => errno::SUCCESS,
                Err(e) => errno_of(&e),
            },
            _ => errno::NOTCONN,
        }
    }

    /// Waits until `fd` is ready for `events` (blocking entries), in slices so that a stop
    /// request ends the wait with an interrupt trap.
    fn wait(&self, fd: u32, events: libc::c_short) -> wasmtime::Result<()> {
        let Some(entry) = self.entries.get(&fd) else {
            return Ok(());
        };
        if entry.nonblocking {
            return Ok(());
        }
        let mut poll = libc::pollfd {
            fd: entry.fd(),
            events,
            revents: 0,
        };
        loop {
            if self.stop.is_requested() {
                return Err(Trap::Interrupt.into());
            }
            // SAFETY: one valid pollfd, owned by this frame.
            let ready = unsafe { libc::poll(&mut poll, 1, WAIT_SLICE_MS) };
            if ready != 0 {
                return Ok(());
            }
        }
    }

    /// Runs `op` on socket `fd` until it stops saying "would block", waiting for `events` in
    /// between while the guest sees the socket as blocking. `op` answers `None` when the socket
    /// is of the wrong kind; then, as when `fd` is not wharf's, the result is `Err(not_found)`.
    fn blocking<R>(
        &mut self,
        fd: u32,
        events: libc::c_short,
        not_found: i32,
        mut op: impl FnMut(&mut Socket) -> Option<std::io::Result<R>>,
    ) -> wasmtime::Result<Result<R, i32>> {
        loop {
            self.wait(fd, events)?;
            let Some(entry) = self.entries.get_mut(&fd) else {
                return Ok(Err(not_found));
            };
            let Some(result) = op(&mut entry.socket) else {
                return Ok(Err(not_found));
            };
            match result {
                Ok(value) => return Ok(Ok(value)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !entry.nonblocking => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Ok(Err(errno_of(&e))),
            }
        }
    }

    /// Accepts a connection on listener `fd` (blocking unless it is non-blocking); the new
    /// connection's number, or an errno.
    fn accept(&mut self, fd: i32, flags: i32) -> wasmtime::Result<Result<u32, i32>> {
        let accepted = self.blocking(
            fd as u32,
            libc::POLLIN,
            errno::NOTSOCK,
            |socket| match socket {
                Socket::Listener(listener) => Some(listener.accept()),
                Socket::Stream(_) => None,
            },
        )?;
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => return Ok(Err(e)),
        };
        stream.set_nonblocking(true)?;
        let _ = stream.set_nodelay(true);
        let number = self.next_connection;
        self.next_connection += 1;
        self.entries.insert(
            number,
            Entry {
                socket: Socket::Stream(stream),
                nonblocking: flags as u16 & FDFLAGS_NONBLOCK != 0,
            },
        );
        Ok(Ok(number))
    }

    /// Reads into `buf` (or peeks); how much, or an errno.
    fn recv(
        &mut self,
        fd: u32,
        buf: &mut [u8],
        peek: bool,
    ) -> wasmtime::Result<Result<usize, i32>> {
        self.blocking(fd, libc::POLLIN, errno::NOTCONN, |socket| match socket {
            Socket::Stream(stream) if peek => Some(stream.peek(buf)),
            Socket::Stream(stream) => Some(stream.read(buf)),
            Socket::Listener(_) => None,
        })
    }

    /// Writes some of `data`; how much, or an errno.
    fn send(&mut self, fd: u32, data: &[u8]) -> wasmtime::Result<Result<usize, i32>> {
        self.blocking(fd, libc::POLLOUT, errno::NOTCONN, |socket| match socket {
            Socket::Stream(stream) => Some(stream.write(data)),
            Socket::Listener(_) => None,
        })
    }
}

fn errno_of(e: &std::io::Error) -> i32 {
    use std::io::ErrorKind::*;
    match e.kind() {
        WouldBlock => errno::AGAIN,
        ConnectionReset => errno::CONNRESET,
        ConnectionAborted => errno::CONNABORTED,
        BrokenPipe => errno::PIPE,
        NotConnected => errno::NOTCONN,
        InvalidInput => errno::INVAL,
        _ => errno::IO,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpListener};
    use std::time::{Duration, Instant};

    use crate::{run, Compiled, Outcome, PortMapping, SandboxPolicy, StopHandle, StopReason};

    /// A preview1 command that blocks in `accept` on descriptor 3 forever.
    const ACCEPT_FOREVER: &str = r#"(module
        (import "wasi_snapshot_preview1" "sock_accept"
            (func $accept (param i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")
            (loop $again
                (drop (call $accept (i32.const 3) (i32.const 0) (i32.const 16)))
                (br $again))))"#;

    #[test]
    fn a_guest_blocked_in_accept_stops_and_lets_go_of_its_port() {
        let engine = crate::new_engine().unwrap();
        let module = wasmtime::Module::new(&engine, ACCEPT_FOREVER).unwrap();
        let addr: SocketAddr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let policy = SandboxPolicy {
            ports: vec![PortMapping {
                host: addr,
                guest_port: 80,
            }],
            ..Default::default()
        };
        let stop = StopHandle::new();
        let stopper = stop.clone();
        std::thread::spawn(move || {
            // Connecting proves the listener is the guest's; then ask it to stop.
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(addr).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            stopper.request(15);
        });
        let outcome = run(&engine, &Compiled::Module(module), &policy, &stop).unwrap();
        assert_eq!(outcome, Outcome::Stopped(StopReason::Signal(15)));
        // The guest thread left its wait and dropped the listener: the port is free again.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpListener::bind(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "{addr} is still held by the stopped guest"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
