//! The preview1 functions wharf shadows for its sockets, and the way back to wasmtime-wasi's
//! own functions for every other descriptor.

use std::sync::Arc;

use wasmtime::{Caller, Extern, Linker, Module, TypedFunc};

use super::{errno, P1Sockets, MAX_TRANSFER};

const WASI: &str = "wasi_snapshot_preview1";

/// A prestat tag that is not `__WASI_PREOPENTYPE_DIR`: wasi-libc skips such preopens.
const PRESTAT_NOT_A_DIR: u8 = 1;

/// wasmtime-wasi's own functions for the descriptors that are not wharf's sockets.
///
/// They cannot be called straight from a host function: wasmtime-wasi finds the guest's memory
/// through its caller's `memory` export, and a host function has none. So they are called
/// through [`FORWARDER`], instantiated in the guest's store: it imports the guest's memory,
/// exports it again, and forwards each call, so to wasmtime-wasi it is the caller.
#[derive(Clone)]
pub(super) struct Originals {
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

/// How the shadows reach wasmtime-wasi: the linker as it was before the shadows, the compiled
/// forwarder, and where the store keeps the sockets.
struct Forwarding<T: 'static> {
    linker: Linker<T>,
    module: Module,
    sockets: fn(&mut T) -> &mut P1Sockets,
}

impl<T: Send + 'static> Forwarding<T> {
    /// wasmtime-wasi's functions, through the forwarder (instantiated on first use, once the
    /// guest's memory exists).
    fn originals(&self, caller: &mut Caller<'_, T>) -> wasmtime::Result<Originals> {
        if let Some(originals) = &(self.sockets)(caller.data_mut()).originals {
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
        (self.sockets)(caller.data_mut()).originals = Some(originals.clone());
        Ok(originals)
    }
}

/// Shadows the preview1 descriptor functions in `linker` (which already holds wasmtime-wasi's)
/// so that wharf's sockets are served and every other descriptor still reaches wasmtime-wasi.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    sockets: fn(&mut T) -> &mut P1Sockets,
) -> wasmtime::Result<()> {
    let forward = Arc::new(Forwarding {
        linker: linker.clone(),
        module: Module::new(linker.engine(), FORWARDER)?,
        sockets,
    });
    linker.allow_shadowing(true);

    linker.func_wrap(
        WASI,
        "sock_accept",
        move |mut caller: Caller<'_, T>, fd: i32, flags: i32, ro_fd: i32| {
            if !sockets(caller.data_mut()).is_listener(fd) {
                return Ok(errno::NOTSOCK);
            }
            let number = match sockets(caller.data_mut()).accept(fd, flags)? {
                Ok(number) => number,
                Err(e) => return Ok(e),
            };
            let result = put(&mut caller, ro_fd, &number.to_le_bytes())?;
            if result != errno::SUCCESS {
                sockets(caller.data_mut()).close(number as i32);
            }
            Ok(result)
        },
    )?;
    let to = forward.clone();
    linker.func_wrap(
        WASI,
        "fd_read",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, nread: i32| {
            if !sockets(caller.data_mut()).is_stream(fd) {
                let fd_read = to.originals(&mut caller)?.fd_read;
                return fd_read.call(&mut caller, (fd, iovs, len, nread));
            }
            receive(&mut caller, sockets, fd, (iovs, len), false, nread)
        },
    )?;
    linker.func_wrap(
        WASI,
        "sock_recv",
        move |mut caller: Caller<'_, T>,
              fd: i32,
              iovs: i32,
              len: i32,
              flags: i32,
              nread: i32,
              ro_flags: i32| {
            if !sockets(caller.data_mut()).is_stream(fd) {
                return Ok(errno::NOTSOCK);
            }
            let peek = flags & 1 != 0;
            let result = receive(&mut caller, sockets, fd, (iovs, len), peek, nread)?;
            if result != errno::SUCCESS {
                return Ok(result);
            }
            put(&mut caller, ro_flags, &[0, 0])
        },
    )?;
    let to = forward.clone();
    linker.func_wrap(
        WASI,
        "fd_write",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, nwritten: i32| {
            if !sockets(caller.data_mut()).is_stream(fd) {
                let fd_write = to.originals(&mut caller)?.fd_write;
                return fd_write.call(&mut caller, (fd, iovs, len, nwritten));
            }
            send(&mut caller, sockets, fd, (iovs, len), nwritten)
        },
    )?;
    linker.func_wrap(
        WASI,
        "sock_send",
        move |mut caller: Caller<'_, T>, fd: i32, iovs: i32, len: i32, _flags: i32, sent: i32| {
            if !sockets(caller.data_mut()).is_stream(fd) {
                return Ok(errno::NOTSOCK);
            }
            send(&mut caller, sockets, fd, (iovs, len), sent)
        },
    )?;
    linker.func_wrap(
        WASI,
        "sock_shutdown",
        move |mut caller: Caller<'_, T>, fd: i32, how: i32| -> wasmtime::Result<i32> {
            let sockets = sockets(caller.data_mut());
            if !sockets.is_stream(fd) {
                return Ok(errno::NOTSOCK);
            }
            Ok(sockets.shutdown(fd, how))
        },
    )?;
    let to = forward.clone();
    linker.func_wrap(
        WASI,
        "fd_close",
        move |mut caller: Caller<'_, T>, fd: i32| -> wasmtime::Result<i32> {
            match sockets(caller.data_mut()).close(fd) {
                Some(false) => Ok(errno::SUCCESS),
                // A listener also lets go of its placeholder in wasmtime-wasi's table.
                Some(true) | None => {
                    let fd_close = to.originals(&mut caller)?.fd_close;
                    fd_close.call(&mut caller, fd)
                }
            }
        },
    )?;
    let to = forward.clone();
    linker.func_wrap(
        WASI,
        "fd_fdstat_get",
        move |mut caller: Caller<'_, T>, fd: i32, buf: i32| -> wasmtime::Result<i32> {
            match sockets(caller.data_mut()).fdstat(fd) {
                Some(stat) => put(&mut caller, buf, &stat),
                None => {
                    let fd_fdstat_get = to.originals(&mut caller)?.fd_fdstat_get;
                    fd_fdstat_get.call(&mut caller, (fd, buf))
                }
            }
        },
    )?;
    let to = forward.clone();
    linker.func_wrap(
        WASI,
        "fd_fdstat_set_flags",
        move |mut caller: Caller<'_, T>, fd: i32, flags: i32| -> wasmtime::Result<i32> {
            match sockets(caller.data_mut()).set_flags(fd, flags) {
                Some(()) => Ok(errno::SUCCESS),
                None => {
                    let set_flags = to.originals(&mut caller)?.fd_fdstat_set_flags;
                    set_flags.call(&mut caller, (fd, flags))
                }
            }
        },
    )?;
    let to = forward;
    linker.func_wrap(
        WASI,
        "fd_prestat_get",
        move |mut caller: Caller<'_, T>, fd: i32, buf: i32| -> wasmtime::Result<i32> {
            if !sockets(caller.data_mut()).is_listener(fd) {
                let fd_prestat_get = to.originals(&mut caller)?.fd_prestat_get;
                return fd_prestat_get.call(&mut caller, (fd, buf));
            }
            // A preopen, but not a directory: wasi-libc skips it and goes on to the next
            // descriptor, so directories mounted after the listeners are still found.
            put(&mut caller, buf, &[PRESTAT_NOT_A_DIR, 0, 0, 0, 0, 0, 0, 0])
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Reads from connection `fd` into the guest's iovecs `(pointer, count)`, and stores the
/// count read at `nread`; returns an errno.
fn receive<T>(
    caller: &mut Caller<'_, T>,
    sockets: fn(&mut T) -> &mut P1Sockets,
    fd: i32,
    (iovs, count): (i32, i32),
    peek: bool,
    nread: i32,
) -> wasmtime::Result<i32> {
    let memory = memory(caller)?;
    let bufs = match iovecs(memory.data(&*caller), iovs, count) {
        Ok(bufs) => bufs,
        Err(e) => return Ok(e),
    };
    let want = bufs.iter().map(|b| b.1).sum::<usize>().min(MAX_TRANSFER);
    let mut data = vec![0; want];
    let n = match sockets(caller.data_mut()).recv(fd as u32, &mut data, peek)? {
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
    put(caller, nread, &(n as u32).to_le_bytes())
}

/// Writes the guest's iovecs `(pointer, count)` to connection `fd`, and stores the count
/// written at `nwritten`; returns an errno.
fn send<T>(
    caller: &mut Caller<'_, T>,
    sockets: fn(&mut T) -> &mut P1Sockets,
    fd: i32,
    (iovs, count): (i32, i32),
    nwritten: i32,
) -> wasmtime::Result<i32> {
    let memory = memory(caller)?;
    let mem = memory.data(&*caller);
    let bufs = match iovecs(mem, iovs, count) {
        Ok(bufs) => bufs,
        Err(e) => return Ok(e),
    };
    let mut data = Vec::new();
    for (at, len) in bufs {
        let take = len.min(MAX_TRANSFER - data.len());
        data.extend_from_slice(&mem[at..at + take]);
    }
    let n = match sockets(caller.data_mut()).send(fd as u32, &data)? {
        Ok(n) => n,
        Err(e) => return Ok(e),
    };
    put(caller, nwritten, &(n as u32).to_le_bytes())
}

/// The guest's exported memory, or a trap: every preview1 command exports one.
fn memory<T>(caller: &mut Caller<'_, T>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::msg("the guest exports no memory")),
    }
}

/// Stores `bytes` at guest address `at`; `SUCCESS`, or `FAULT` when it is out of bounds.
fn put<T>(caller: &mut Caller<'_, T>, at: i32, bytes: &[u8]) -> wasmtime::Result<i32> {
    let memory = memory(caller)?;
    let at = at as u32 as usize;
    Ok(
        match memory.data_mut(caller).get_mut(at..at + bytes.len()) {
            Some(place) => {
                place.copy_from_slice(bytes);
                errno::SUCCESS
            }
            None => errno::FAULT,
        },
    )
}

/// `(address, length)` of each iovec in the guest's array at `ptr` of `count` entries, checked
/// to lie in memory.
fn iovecs(mem: &[u8], ptr: i32, count: i32) -> Result<Vec<(usize, usize)>, i32> {
    let word = |at: usize| -> Result<usize, i32> {
        let bytes = mem.get(at..at + 4).ok_or(errno::FAULT)?;
        Ok(u32::from_le_bytes(bytes.try_into().unwrap()) as usize)
    };
    let mut out = Vec::new();
    for i in 0..count as u32 as usize {
        let at = ptr as u32 as usize + i * 8;
        let (buf, len) = (word(at)?, word(at + 4)?);
        if buf.checked_add(len).is_none_or(|end| end > mem.len()) {
            return Err(errno::FAULT);
        }
        out.push((buf, len));
    }
    Ok(out)
}
