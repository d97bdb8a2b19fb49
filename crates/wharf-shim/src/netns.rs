//! The network a task's guest lives in, from the spec's `linux.namespaces`: the host's (no
//! network namespace named: `ctr run --net-host`, a host-network pod), a new one of its own
//! (a network namespace without a path: `ctr run`'s default), or one that exists (a path:
//! a pod's, `ctr run --with-ns network:PATH`).
//!
//! Namespaces are per thread in Linux, and threads inherit their creator's: the task's thread
//! enters the namespace before it runs the guest, so every socket the guest, its wasi:http
//! server and their threads open lives there. Inside a namespace the guest binds its ports
//! directly, as a Linux container's processes do; the namespace is its isolation.

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// Where a task's guest does its networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The shim's own: the host's network.
    Host,
    /// A new namespace, with only a loopback interface.
    Own,
    /// The namespace at this path (`/proc/<pid>/ns/net`, `/var/run/netns/NAME`).
    Join(PathBuf),
}

impl Network {
    /// What `spec` asks for.
    pub fn from_spec(spec: &Spec) -> Network {
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
        let network = namespaces
            .into_iter()
            .flatten()
            .find(|n| n.typ() == LinuxNamespaceType::Network);
        match network {
            None => Network::Host,
            Some(ns) => match ns.path() {
                Some(path) => Network::Join(path.clone()),
                None => Network::Own,
            },
        }
    }

    /// Moves the calling thread (and the threads it creates afterwards) into this network.
    pub fn enter(&self) -> io::Result<()> {
        match self {
            Network::Host => Ok(()),
            Network::Join(path) => {
                let ns = std::fs::File::open(path)?;
                // SAFETY: setns on a descriptor we own; it changes only this thread.
                check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })
            }
            Network::Own => {
                // SAFETY: unshare of the network namespace changes only this thread.
                check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
                loopback_up()
            }
        }
    }
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A new namespace's loopback starts down; guests expect 127.0.0.1 to work.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a datagram socket for the interface ioctls, closed below.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: an all-zero ifreq is valid; the name fits its 16 bytes.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (to, from) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *to = *from as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the flags member of our ifreq.
    let result = unsafe {
        let mut result = libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request);
        if result == 0 {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            result = libc::ioctl(socket, libc::SIOCSIFFLAGS, &request);
        }
        result
    };
    let error = io::Error::last_os_error();
    // SAFETY: closing the socket opened above.
    unsafe { libc::close(socket) };
    if result < 0 {
        Err(error)
    } else {
        Ok(())
    }
}
