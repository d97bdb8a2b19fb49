//! `wharf-monitor ROOT ID`: the monitor of one container (the role Podman's conmon plays), run
//! by whichever front end starts the container, with a pipe on fd 3 for its first answer. It
//! takes no flags of any front end; everything it does is `wharf_core::monitor::main`.

use std::os::fd::{FromRawFd, OwnedFd};

fn main() {
    // SAFETY: the first thing in main; no thread exists yet.
    unsafe { wharf_core::monitor::daemonize() };
    let mut args = std::env::args_os().skip(1);
    let (Some(root), Some(id), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: wharf-monitor ROOT ID (wharf starts it; it is not for running by hand)");
        std::process::exit(2);
    };
    // SAFETY: the starter put the write end of its ready pipe on READY_FD for this process,
    // and nothing else here owns that descriptor.
    let ready = unsafe { OwnedFd::from_raw_fd(wharf_core::monitor::READY_FD) };
    let id = id.to_string_lossy();
    std::process::exit(wharf_core::monitor::main(root.into(), &id, ready));
}
