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

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use std::sync::Arc;

use wasmtime::{Caller, Extern, Linker, Module, Trap, TypedFunc};

use crate::run::StopHandle;

/// The first descriptor number a listener gets (after stdin, stdout and stderr), as in
/// systemd's `SD_LISTEN_FDS_START`.
pub(crate) const LISTENERS_START: u32 = 3;
/// The first descriptor number of an accepted connection.
pub(crate) const CONNECTIONS_START: u32 = 1 << 20;
/// How long one slice of a blocking wait lasts before the stop request is looked at.
const WAIT_SLICE_MS: i32 = 100;
/// The most bytes one read or write moves (the guest loops for more, as with any socket).
const MAX_TRANSFER: usize = 1 << 20;

mod errno {
    pub const SUCCESS: i32 = 0;
    pub const AGAIN: i32 = 6;
    pub const BADF: i32 = 8;
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
/// A prestat tag that is not `__WASI_PREOPENTYPE_DIR`: wasi-libc skips such preopens.
const PRESTAT_NOT_A_DIR: u8 = 1;
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
    originals: Option<Originals>,
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

    fn accept(&mut self, fd: i32, flags: i32) -> wasmtime::Result<Result<u32, i32>> {
        let fd = fd as u32;
        if !self.is_listener(fd as i32) {
            return Ok(Err(errno::NOTSOCK));
        }
        loop {
            self.wait(fd, libc::POLLIN)?;
            let Some(Entry {
                socket: Socket::Listener(listener),
                nonblocking,
            }) = self.entries.get(&fd)
            else {
                return Ok(Err(errno::BADF));
            };
            match listener.accept() {
                Ok((stream, _)) => {
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
                    return Ok(Ok(number));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !nonblocking => continue,
                Err(e) => return Ok(Err(errno_of(&e))),
            }
        }
    }

    /// Reads into `buf`; `Ok(Err(errno))` for a socket error the guest should see.
    fn recv(
        &mut self,
        fd: u32,
        buf: &mut [u8],
        peek: bool,
    ) -> wasmtime::Result<Result<usize, i32>> {
        loop {
            self.wait(fd, libc::POLLIN)?;
            let Some(Entry {
                socket: Socket::Stream(stream),
                nonblocking,
            }) = self.entries.get_mut(&fd)
            else {
                return Ok(Err(errno::NOTCONN));
            };
            let read = if peek {
                stream.peek(buf)
            } else {
                stream.read(buf)
            };
            match read {
                Ok(n) => return Ok(Ok(n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !*nonblocking => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Ok(Err(errno_of(&e))),
            }
        }
    }

    fn send(&mut self, fd: u32, data: &[u8]) -> wasmtime::Result<Result<usize, i32>> {
        loop {
            self.wait(fd, libc::POLLOUT)?;
            let Some(Entry {
                socket: Socket::Stream(stream),
                nonblocking,
            }) = self.entries.get_mut(&fd)
            else {
                return Ok(Err(errno::NOTCONN));
            };
            match stream.write(data) {
                Ok(n) => return Ok(Ok(n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !*nonblocking => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Ok(Err(errno_of(&e))),
            }
        }
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

/// The guest's exported memory, or a trap: every preview1 command exports one.
fn memory<T>(caller: &mut Caller<'_, T>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::msg("the guest exports no memory")),
    }
}

/// `(pointer, length)` of each iovec in the guest's `[ptr, len)` array.
fn iovecs(mem: &[u8], ptr: i32, len: i32) -> Result<Vec<(usize, usize)>, i32> {
    let mut out = Vec::new();
    for i in 0..len as u32 as usize {
        let at = ptr as u32 as usize + i * 8;
        let buf = read_u32(mem, at)? as usize;
        let buf_len = read_u32(mem, at + 4)? as usize;
        if buf.checked_add(buf_len).is_none_or(|end| end > mem.len()) {
            return Err(errno::FAULT);
        }
        out.push((buf, buf_len));
    }
    Ok(out)
}

fn read_u32(mem: &[u8], at: usize) -> Result<u32, i32> {
    let bytes = mem.get(at..at + 4).ok_or(errno::FAULT)?;
    Ok(u32::from_le_bytes(bytes.try_into().unwrap()))
}

fn write_bytes(mem: &mut [u8], at: i32, bytes: &[u8]) -> Result<(), i32> {
    let at = at as u32 as usize;
    mem.get_mut(at..at + bytes.len())
        .ok_or(errno::FAULT)?
        .copy_from_slice(bytes);
    Ok(())
}

/// wasmtime-wasi's own preview1 functions that the shadows pass other descriptors on to.
///
/// They cannot be called straight from a host function: wasmtime-wasi finds the guest's memory
/// through its caller's `memory` export, and a host function has none. So they are called
/// through a small module instantiated in the guest's store that imports the guest's memory,
/// exports it again, and forwards each call: to wasmtime-wasi, that module is the caller.
#[derive(Clone)]
struct Originals {
    fd_read: TypedFunc<(i32, i32, i32, i32), i32>,
    fd_write: TypedFunc<(i32, i32, i32, i32), i32>,
    fd_close: TypedFunc<i32, i32>,
    fd_fdstat_get: TypedFunc<(i32, i32), i32>,
    fd_fdstat_set_flags: TypedFunc<(i32, i32), i32>,
    fd_prestat_get: TypedFunc<(i32, i32), i32>,
}

const FORWARDER: &str = r#"(module
    (import "env" "memory" (memory 0))
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $fd_fdstat_set_flags (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
    (export "memory" (memory 0))
    (func (export "fd_read") (param i32 i32 i32 i32) (result i32)
        (call $fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
    (func (export "fd_write") (param i32 i32 i32 i32) (result i32)
        (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
    (func (export "fd_close") (param i32) (result i32) (call $fd_close (local.get 0)))
    (func (export "fd_fdstat_get") (param i32 i32) (result i32)
        (call $fd_fdstat_get (local.get 0) (local.get 1)))
    (func (export "fd_fdstat_set_flags") (param i32 i32) (result i32)
        (call $fd_fdstat_set_flags (local.get 0) (local.get 1)))
    (func (export "fd_prestat_get") (param i32 i32) (result i32)
        (call $fd_prestat_get (local.get 0) (local.get 1))))"#;

/// What the shadows need to reach wasmtime-wasi: a linker holding its functions (before the
/// shadows) and the compiled forwarder.
struct Forwarding<T: 'static> {
    linker: Linker<T>,
    module: Module,
}

impl<T: Send + 'static> Forwarding<T> {
    /// wasmtime-wasi's functions, through the forwarder (instantiated on first use, once the
    /// guest's memory exists).
    fn originals(
        &self,
        caller: &mut Caller<'_, T>,
        sockets: fn(&mut T) -> &mut P1Sockets,
    ) -> wasmtime::Result<Originals> {
        if let Some(originals) = &sockets(caller.data_mut()).originals {
            return Ok(originals.clone());
        }
        let memory = memory(caller)?;
        let mut linker = self.linker.clone();
        linker.define(&*caller, "env", "memory", memory)?;
        let instance = linker.instantiate(&mut *caller, &self.module)?;
        let originals = Originals {
            fd_read: instance.get_typed_func(&mut *caller, "fd_read")?,
            fd_write: instance.get_typed_func(&mut *caller, "fd_write")?,
            fd_close: instance.get_typed_func(&mut *caller, "fd_close")?,
            fd_fdstat_get: instance.get_typed_func(&mut *caller, "fd_fdstat_get")?,
            fd_fdstat_set_flags: instance.get_typed_func(&mut *caller, "fd_fdstat_set_flags")?,
            fd_prestat_get: instance.get_typed_func(&mut *caller, "fd_prestat_get")?,
        };
        sockets(caller.data_mut()).originals = Some(originals.clone());
        Ok(originals)
    }
}

/// Shadows the preview1 descriptor functions in `linker` (which already holds wasmtime-wasi's)
/// so that wharf's sockets are served and every other descriptor still reaches wasmtime-wasi.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    sockets: fn(&mut T) -> &mut P1Sockets,
) -> wasmtime::Result<()> {
    const MODULE: &str = "wasi_snapshot_preview1";
    let forwarding = Arc::new(Forwarding {
        linker: linker.clone(),
        module: Module::new(linker.engine(), FORWARDER)?,
    });
    linker.allow_shadowing(true);

    linker.func_wrap(
        MODULE,
        "sock_accept",
        move |mut caller: Caller<'_, T>,
              fd: i32,
              flags: i32,
              ro_fd: i32|
              -> wasmtime::Result<i32> {
            if !sockets(caller.data_mut()).is_listener(fd) {
                return Ok(errno::NOTSOCK);
            }
            let accepted = sockets(caller.data_mut()).accept(fd, flags)?;
            let memory = memory(&mut caller)?;
            Ok(match accepted {
                Ok(number) => {
                    match write_bytes(memory.data_mut(&mut caller), ro_fd, &number.to_le_bytes()) {
                        Ok(()) => errno::SUCCESS,
                        Err(e) => {
                            sockets(caller.data_mut()).entries.remove(&number);
                            e
                        }
                    }
                }
                Err(e) => e,
            })
        },
    )?;

    // Reads: fd_read and sock_recv share the scatter into the guest's buffers.
    fn read_into<T>(
        caller: &mut Caller<'_, T>,
        sockets: fn(&mut T) -> &mut P1Sockets,
        fd: u32,
        iovs: i32,
        iovs_len: i32,
        peek: bool,
        nread: i32,
    ) -> wasmtime::Result<i32> {
        let memory = memory(caller)?;
        let bufs = match iovecs(memory.data(&*caller), iovs, iovs_len) {
            Ok(bufs) => bufs,
            Err(e) => return Ok(e),
        };
        let want: usize = bufs.iter().map(|b| b.1).sum::<usize>().min(MAX_TRANSFER);
        let mut data = vec![0; want];
        let n = match sockets(caller.data_mut()).recv(fd, &mut data, peek)? {
            Ok(n) => n,
            Err(e) => return Ok(e),
        };
        let mem = memory.data_mut(&mut *caller);
        let mut done = 0;
        for (at, len) in bufs {
            let take = len.min(n - done);
            mem[at..at + take].copy_from_slice(&data[done..done + take]);
            done += take;
        }
        Ok(match write_bytes(mem, nread, &(n as u32).to_le_bytes()) {
            Ok(()) => errno::SUCCESS,
            Err(e) => e,
        })
    }
    fn write_from<T>(
        caller: &mut Caller<'_, T>,
        sockets: fn(&mut T) -> &mut P1Sockets,
        fd: u32,
        iovs: i32,
        iovs_len: i32,
        nwritten: i32,
    ) -> wasmtime::Result<i32> {
        let memory = memory(caller)?;
        let mem = memory.data(&*caller);
        let bufs = match iovecs(mem, iovs, iovs_len) {
            Ok(bufs) => bufs,
            Err(e) => return Ok(e),
        };
        let mut data = Vec::new();
        for (at, len) in bufs {
            let take = len.min(MAX_TRANSFER - data.len());
            data.extend_from_slice(&mem[at..at + take]);
        }
        let n = match sockets(caller.data_mut()).send(fd, &data)? {
            Ok(n) => n,
            Err(e) => return Ok(e),
        };
        Ok(
            match write_bytes(
                memory.data_mut(&mut *caller),
                nwritten,
                &(n as u32).to_le_bytes(),
            ) {
                Ok(()) => errno::SUCCESS,
                Err(e) => e,
            },
        )
    }
    let is_stream = move |caller: &mut Caller<'_, T>, fd: i32| {
        matches!(
            sockets(caller.data_mut()).entries.get(&(fd as u32)),
            Some(Entry {
                socket: Socket::Stream(_),
                ..
            })
        )
    };

    let to_read = forwarding.clone();
    linker.func_wrap(
        MODULE,
        "fd_read",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, nread: i32| {
            if !is_stream(&mut caller, fd) {
                return to_read
                    .originals(&mut caller, sockets)?
                    .fd_read
                    .call(&mut caller, (fd, iovs, len, nread));
            }
            read_into(&mut caller, sockets, fd as u32, iovs, len, false, nread)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_recv",
        move |mut caller: Caller<'_, T>,
              fd: i32,
              iovs: i32,
              len: i32,
              flags: i32,
              nread: i32,
              ro_flags: i32| {
            if !is_stream(&mut caller, fd) {
                return Ok(errno::NOTSOCK);
            }
            let peek = flags & 1 != 0;
            let result = read_into(&mut caller, sockets, fd as u32, iovs, len, peek, nread)?;
            if result == errno::SUCCESS {
                let memory = memory(&mut caller)?;
                if let Err(e) = write_bytes(memory.data_mut(&mut caller), ro_flags, &[0, 0]) {
                    return Ok(e);
                }
            }
            Ok(result)
        },
    )?;
    let to_write = forwarding.clone();
    linker.func_wrap(
        MODULE,
        "fd_write",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, nwritten: i32| {
            if !is_stream(&mut caller, fd) {
                return to_write
                    .originals(&mut caller, sockets)?
                    .fd_write
                    .call(&mut caller, (fd, iovs, len, nwritten));
            }
            write_from(&mut caller, sockets, fd as u32, iovs, len, nwritten)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_send",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, _flags: i32, sent: i32| {
            if !is_stream(&mut caller, fd) {
                return Ok(errno::NOTSOCK);
            }
            write_from(&mut caller, sockets, fd as u32, iovs, len, sent)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_shutdown",
        move |mut caller: Caller<'_, T>, fd: i32, how: i32| -> wasmtime::Result<i32> {
            if !is_stream(&mut caller, fd) {
                return Ok(errno::NOTSOCK);
            }
            let how = match how & (SDFLAGS_RD | SDFLAGS_WR) {
                SDFLAGS_RD => Shutdown::Read,
                SDFLAGS_WR => Shutdown::Write,
                0 => return Ok(errno::INVAL),
                _ => Shutdown::Both,
            };
            let entry = sockets(caller.data_mut()).entries.get(&(fd as u32));
            Ok(match entry.map(|e| &e.socket) {
                Some(Socket::Stream(stream)) => match stream.shutdown(how) {
                    Ok(()) => errno::SUCCESS,
                    Err(e) => errno_of(&e),
                },
                _ => errno::NOTCONN,
            })
        },
    )?;
    let to_close = forwarding.clone();
    linker.func_wrap(
        MODULE,
        "fd_close",
        move |mut caller: Caller<'_, T>, fd: i32| -> wasmtime::Result<i32> {
            let removed = sockets(caller.data_mut()).entries.remove(&(fd as u32));
            match removed.map(|e| e.socket) {
                Some(Socket::Stream(_)) => Ok(errno::SUCCESS),
                // A listener also lets go of its placeholder in wasmtime-wasi's table.
                Some(Socket::Listener(_)) | None => to_close
                    .originals(&mut caller, sockets)?
                    .fd_close
                    .call(&mut caller, fd),
            }
        },
    )?;
    let to_fdstat_get = forwarding.clone();
    linker.func_wrap(
        MODULE,
        "fd_fdstat_get",
        move |mut caller: Caller<'_, T>, fd: i32, buf: i32| -> wasmtime::Result<i32> {
            let Some(entry) = sockets(caller.data_mut()).entries.get(&(fd as u32)) else {
                return to_fdstat_get
                    .originals(&mut caller, sockets)?
                    .fd_fdstat_get
                    .call(&mut caller, (fd, buf));
            };
            // struct fdstat { u8 filetype; u16 flags @2; u64 rights_base @8; u64 inheriting @16 }
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
            let memory = memory(&mut caller)?;
            Ok(
                match write_bytes(memory.data_mut(&mut caller), buf, &stat) {
                    Ok(()) => errno::SUCCESS,
                    Err(e) => e,
                },
            )
        },
    )?;
    let to_fdstat_set_flags = forwarding.clone();
    linker.func_wrap(
        MODULE,
        "fd_fdstat_set_flags",
        move |mut caller: Caller<'_, T>, fd: i32, flags: i32| -> wasmtime::Result<i32> {
            let Some(entry) = sockets(caller.data_mut()).entries.get_mut(&(fd as u32)) else {
                return to_fdstat_set_flags
                    .originals(&mut caller, sockets)?
                    .fd_fdstat_set_flags
                    .call(&mut caller, (fd, flags));
            };
            entry.nonblocking = flags as u16 & FDFLAGS_NONBLOCK != 0;
            Ok(errno::SUCCESS)
        },
    )?;
    let to_prestat_get = forwarding.clone();
    linker.func_wrap(
        MODULE,
        "fd_prestat_get",
        move |mut caller: Caller<'_, T>, fd: i32, buf: i32| -> wasmtime::Result<i32> {
            if !sockets(caller.data_mut()).is_listener(fd) {
                return to_prestat_get
                    .originals(&mut caller, sockets)?
                    .fd_prestat_get
                    .call(&mut caller, (fd, buf));
            }
            // A preopen, but not a directory: wasi-libc skips it and goes on to the next
            // descriptor, so directories mounted after the listeners are still found.
            let memory = memory(&mut caller)?;
            Ok(
                match write_bytes(
                    memory.data_mut(&mut caller),
                    buf,
                    &[PRESTAT_NOT_A_DIR, 0, 0, 0, 0, 0, 0, 0],
                ) {
                    Ok(()) => errno::SUCCESS,
                    Err(e) => e,
                },
            )
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
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
