//! `wharf system service`: serves the Docker Engine API (`wharf-api`) on a unix socket, so the
//! stock docker CLI, docker-compose and the Docker SDK drive the same containers and images
//! as `wharf` itself. Containers belong to their monitors: they run on when the service
//! stops, and a restarted service serves them again.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use wharf_core::{Root, Wharf};

use crate::{fail, ENGINE_FAILED};

/// `wharf system service [--socket PATH] [--tcp HOST:PORT]`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The unix socket to serve on (owner-only). Default: /run/wharf/docker.sock for root,
    /// else $XDG_RUNTIME_DIR/wharf/docker.sock.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Also serve on TCP, on a loopback address unless --tcp-any. Anyone who reaches it
    /// controls what wharf can reach.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<SocketAddr>,
    /// Allow --tcp on an address other than loopback.
    #[arg(long)]
    tcp_any: bool,
}

/// The socket the service listens on by default.
fn default_socket() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/run/wharf/docker.sock");
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    runtime.join("wharf/docker.sock")
}

/// Binds the unix socket at `path`, owner-only: a stale socket (no one answers) is replaced,
/// a live one is refused.
fn bind_socket(path: &Path) -> Result<std::os::unix::net::UnixListener, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!(
                "another service is listening on {}; stop it or give --socket",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    }
    // Created owner-only (umask), then made so explicitly: never world-accessible.
    // SAFETY: umask has no preconditions; it is restored right after the bind.
    let old = unsafe { libc::umask(0o077) };
    let bound = std::os::unix::net::UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(listener)
}

/// The socket systemd passed (socket activation: `LISTEN_PID` is this process and
/// `LISTEN_FDS` is 1, the socket on fd 3), if it did.
fn socket_from_systemd() -> Option<std::os::unix::net::UnixListener> {
    use std::os::fd::FromRawFd;
    let for_us = std::env::var("LISTEN_PID").ok()?.parse::<u32>().ok()? == std::process::id();
    if !for_us || std::env::var("LISTEN_FDS").ok()? != "1" {
        return None;
    }
    // SAFETY: systemd hands fd 3 to this process for it alone (LISTEN_PID checked above).
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
    listener.set_nonblocking(true).ok()?;
    Some(listener)
}

/// Serves until SIGINT or SIGTERM; returns the exit code.
pub fn service(wharf: &Wharf, args: ServiceArgs) -> i32 {
    // A client that hangs up mid-answer (unix sockets are written without MSG_NOSIGNAL) or a
    // guest that stops reading its stdin FIFO must fail that write (EPIPE), not kill the
    // service: the CLI restores SIGPIPE's default for pipelines, which a server must undo.
    // SAFETY: setting a signal's disposition to ignore is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let socket = args.socket.clone().unwrap_or_else(default_socket);
    if let Some(tcp) = args.tcp {
        if !tcp.ip().is_loopback() && !args.tcp_any {
            return fail(
                format!(
                    "--tcp {tcp} is not a loopback address; add --tcp-any to serve there anyway"
                ),
                ENGINE_FAILED,
            );
        }
        eprintln!(
            "wharf: WARNING: serving the API on tcp://{tcp} without TLS: anyone who can connect \
             controls what wharf can reach, as root can"
        );
    }
    let wharf = match Root::open(wharf.root().path())
        .map_err(wharf_core::Error::io)
        .and_then(Wharf::open)
    {
        Ok(wharf) => Arc::new(wharf),
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    let registry = match crate::registry::registry_options_from_env() {
        Ok(options) => options,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    let activated = socket_from_systemd();
    let from_systemd = activated.is_some();
    let listener = match activated {
        Some(listener) => listener,
        None => match bind_socket(&socket) {
            Ok(listener) => listener,
            Err(e) => return fail(e, ENGINE_FAILED),
        },
    };
    let bound_inode = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(&socket).unwrap_or_else(|_| std::fs::metadata("/").expect("/")),
    );
    let bound_inode = Some(bound_inode);
    // As dockerd does at its start: containers whose policy outlives a reboot run again.
    if let Ok((ids, _)) = wharf.containers_to_revive() {
        for id in ids {
            if let Err(e) = wharf.start_container(&id) {
                eprintln!("wharf: cannot restart container {id}: {e}");
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    eprintln!(
        "wharf: serving the Docker Engine API on unix://{}",
        socket.display()
    );
    let served = runtime.block_on(async move {
        let unix = tokio::net::UnixListener::from_std(listener)?;
        let unix = wharf_api::serve(unix, wharf.clone(), registry.clone());
        let tcp = async {
            match args.tcp {
                Some(addr) => {
                    let listener = tokio::net::TcpListener::bind(addr).await?;
                    wharf_api::serve(listener, wharf.clone(), registry.clone()).await
                }
                None => std::future::pending().await,
            }
        };
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            served = unix => served,
            served = tcp => served,
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = terminate.recv() => Ok(()),
        }
    });
    // Only our own socket: a service started since may have bound the path anew.
    use std::os::unix::fs::MetadataExt;
    if !from_systemd && std::fs::metadata(&socket).is_ok_and(|m| Some(m.ino()) == bound_inode) {
        let _ = std::fs::remove_file(&socket);
    }
    match served {
        Ok(()) => 0,
        Err(e) => fail(format!("the API service failed: {e}"), ENGINE_FAILED),
    }
}
