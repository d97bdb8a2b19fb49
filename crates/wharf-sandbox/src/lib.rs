//! Runs one WebAssembly guest under a sandbox policy.
//!
//! This crate is wharf's sandbox: given compiled code and a [`SandboxPolicy`] (the args, env,
//! directories, stdio and limits a guest is granted), it runs a WASI preview1 core module or a
//! preview2 `wasi:cli/command` component to completion and reports how it ended as an
//! [`Outcome`]. Nothing of the host is reachable unless the policy grants it.
//!
//! It does not know where code comes from (files, images, the AOT cache) nor how outcomes are
//! shown to users; those belong to `wharf-core` and the front ends.

#![warn(missing_docs)]

mod component_cwd;
mod engine;
mod guest;
mod imports;
mod limits;
mod module_functions;
mod network;
mod output;
mod p1_listeners;
mod peers;
mod policy;
mod run;
mod stop;
mod workdir;

pub use component_cwd::{hook_component_getcwd, WORKDIR_ENV};
pub use engine::{new_engine, new_pooled_engine, WASMTIME_VERSION};
pub use guest::{Compiled, GuestKind, WasmBinary, NEEDS_A_PORT};
pub use network::{assign_free_ports, ensure_ports_free, NetworkMode};
pub use output::{GuestStream, Output, OutputSink};
pub use peers::{Peers, Route, SharedPeers};
pub use policy::{Mount, PortMapping, SandboxPolicy, StartHook, Stdin};
pub use run::{run, wasi_builder, Outcome, RunError, StopReason};
pub use stop::StopHandle;
pub use wasmtime::Engine;
pub use workdir::{export_chdir, CHDIR_EXPORT};
