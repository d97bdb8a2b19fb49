//! The `wharf` command line. Each subcommand parses its flags into a core request, calls
//! `wharf-core`, and prints the result the way Docker users expect; no engine or store logic
//! lives here.

#![warn(missing_docs)]

mod args;
mod containers;
mod events;
mod format;
mod habits;
mod hints;
mod images;
mod inside;
mod objects;
mod registry;
mod run;
mod service;
mod system;
mod units;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use wharf_core::{Root, Wharf};

/// wharf: a container engine for WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about)]
struct Cli {
    /// Where wharf keeps its data (AOT cache, and later images and containers).
    /// Default: /var/lib/wharf for root, else $XDG_DATA_HOME/wharf or ~/.local/share/wharf.
    #[arg(long, global = true, env = wharf_core::ROOT_ENV, value_name = "DIR")]
    root: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Run a WebAssembly program (.wasm module or component, or .wat text) in a sandbox.
    Run(run::RunArgs),
    /// Build an image from a Dockerfile (FROM scratch, COPY app.wasm /, ENTRYPOINT [...]).
    Build(images::BuildArgs),
    /// List images.
    Images(images::ImagesArgs),
    /// Remove images (untag; delete once no tag is left).
    Rmi(images::RmiArgs),
    /// Give an image another name.
    Tag(images::TagArgs),
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
    /// Log in to a registry (credentials go to Docker's config.json).
    Login(registry::LoginArgs),
    /// Log out from a registry.
    Logout(registry::LogoutArgs),
    /// Write images to an OCI layout tar archive.
    Save(images::SaveArgs),
    /// Read images from an OCI layout tar archive (wharf save, docker save, skopeo).
    Load(images::LoadArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Create a container without starting it (flags as for run).
    Create(run::RunArgs),
    /// Start stopped or created containers.
    Start(containers::StartArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Print a container's output.
    Logs(containers::LogsArgs),
    /// Stop containers (interrupt the guest; kill it after -t seconds).
    Stop(containers::StopArgs),
    /// Kill containers.
    Kill(containers::KillArgs),
    /// Stop and start containers.
    Restart(containers::StopArgs),
    /// Remove containers.
    Rm(containers::RmArgs),
    /// Wait for containers to end and print their exit codes.
    Wait(containers::WaitArgs),
    /// Show containers (or images) as JSON.
    Inspect(containers::InspectArgs),
    /// Show CPU and memory use of running containers.
    Stats(containers::StatsArgs),
    /// Show a container's published ports.
    Port(containers::PortArgs),
    /// Show what happens to containers and images.
    Events(events::EventsArgs),
    /// Rename a container.
    Rename(containers::RenameArgs),
    /// Copy files between a container's filesystem and the host.
    Cp(inside::CpArgs),
    /// Show a container's process.
    Top(inside::TopArgs),
    /// Follow a running container's output (and give it input when created with -i).
    Attach(inside::AttachArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// wharf itself: the Docker Engine API service, disk usage, prune, info.
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage named volumes.
    #[command(subcommand)]
    Volume(objects::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(objects::NetworkCommand),
    /// Show wharf's version and the wasmtime it runs guests on.
    Version(system::VersionArgs),
    /// Show what wharf holds and runs on (as `docker info`).
    Info(system::InfoArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completion(system::CompletionArgs),
}

/// `wharf system ...`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum SystemCommand {
    /// Serve the Docker Engine API on a unix socket (docker, docker-compose, the Docker SDK).
    Service(service::ServiceArgs),
    /// Show disk usage: images, containers, volumes and compiled code.
    Df(system::DfArgs),
    /// Remove stopped containers, unused networks, dangling images and stale compiled code.
    Prune(system::SystemPruneArgs),
    /// Show what wharf holds and runs on (as `docker info`).
    Info(system::InfoArgs),
}

/// `wharf container ...`: Docker's management-command spelling of the container verbs.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum ContainerCommand {
    /// List containers.
    #[command(alias = "list")]
    Ls(containers::PsArgs),
    /// Remove every stopped container.
    Prune(containers::PruneArgs),
    /// Show containers as JSON.
    Inspect(containers::InspectArgs),
    /// Remove containers.
    Rm(containers::RmArgs),
    /// Start containers.
    Start(containers::StartArgs),
    /// Stop containers.
    Stop(containers::StopArgs),
    /// Kill containers.
    Kill(containers::KillArgs),
    /// Print a container's output.
    Logs(containers::LogsArgs),
    /// Wait for containers.
    Wait(containers::WaitArgs),
    /// Show CPU and memory use.
    Stats(containers::StatsArgs),
}

/// `wharf image ...`: Docker's management-command spelling of the image verbs.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum ImageCommand {
    /// Show an image's details as JSON.
    Inspect(images::InspectArgs),
    /// Remove unused images: untagged ones no container uses (-a: every image no container uses).
    Prune(images::PruneArgs),
    /// List images.
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    /// Remove images.
    Rm(images::RmiArgs),
    /// Give an image another name.
    Tag(images::TagArgs),
    /// Build an image from a Dockerfile.
    Build(images::BuildArgs),
    /// Download an image.
    Pull(registry::PullArgs),
    /// Upload an image.
    Push(registry::PushArgs),
    /// Write images to an archive.
    Save(images::SaveArgs),
    /// Read images from an archive.
    Load(images::LoadArgs),
}

/// Docker's exit code when the engine itself fails (bad flag, internal error).
const ENGINE_FAILED: i32 = 125;

/// Prints `wharf: ERROR` on stderr, the one line every failure gets, and returns `code`.
fn fail(error: impl std::fmt::Display, code: i32) -> i32 {
    eprintln!("wharf: {error}");
    code
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { ENGINE_FAILED } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    restore_sigpipe();
    // These need no root: they work before wharf has ever stored anything.
    let command = match cli.command {
        Command::Version(args) => return system::version(args),
        Command::Completion(args) => {
            return system::completion(args, &mut <Cli as clap::CommandFactory>::command())
        }
        command => command,
    };
    let root = cli.root.unwrap_or_else(Root::default_path);
    let wharf = match Root::open(root)
        .map_err(anyhow::Error::from)
        .and_then(|root| Wharf::open(root).map_err(anyhow::Error::from))
    {
        Ok(wharf) => wharf,
        Err(e) => return fail(format!("{e:#}"), ENGINE_FAILED),
    };
    match command {
        Command::Version(_) | Command::Completion(_) => unreachable!("handled before the root"),
        Command::Run(args) => run::run(&wharf, args),
        Command::Build(args) => images::build(&wharf, args),
        Command::Images(args) => images::images(&wharf, args),
        Command::Rmi(args) => images::rmi(&wharf, args),
        Command::Tag(args) => images::tag(&wharf, args),
        Command::Pull(args) => registry::pull(&wharf, args),
        Command::Push(args) => registry::push(&wharf, args),
        Command::Login(args) => registry::login(&wharf, args),
        Command::Logout(args) => registry::logout(&wharf, args),
        Command::Save(args) => images::save(&wharf, args),
        Command::Load(args) => images::load(&wharf, args),
        Command::Create(args) => containers::create(&wharf, args),
        Command::Start(args) => containers::start(&wharf, args),
        Command::Ps(args) => containers::ps(&wharf, args),
        Command::Logs(args) => containers::logs(&wharf, args),
        Command::Stop(args) => containers::stop(&wharf, args),
        Command::Kill(args) => containers::kill(&wharf, args),
        Command::Restart(args) => containers::restart(&wharf, args),
        Command::Rm(args) => containers::rm(&wharf, args),
        Command::Wait(args) => containers::wait(&wharf, args),
        Command::Inspect(args) => containers::inspect(&wharf, args),
        Command::Stats(args) => containers::stats(&wharf, args),
        Command::Port(args) => containers::port(&wharf, args),
        Command::Events(args) => events::events(&wharf, args),
        Command::Rename(args) => containers::rename(&wharf, args),
        Command::Cp(args) => inside::cp(&wharf, args),
        Command::Top(args) => inside::top(&wharf, args),
        Command::Attach(args) => inside::attach(&wharf, args),
        Command::System(SystemCommand::Service(args)) => service::service(&wharf, args),
        Command::System(SystemCommand::Df(args)) => system::df(&wharf, args),
        Command::System(SystemCommand::Prune(args)) => system::prune(&wharf, args),
        Command::System(SystemCommand::Info(args)) | Command::Info(args) => {
            system::info(&wharf, args)
        }
        Command::Volume(command) => objects::volume(&wharf, command),
        Command::Network(command) => objects::network(&wharf, command),
        Command::Container(command) => match command {
            ContainerCommand::Ls(args) => containers::ps(&wharf, args),
            ContainerCommand::Prune(args) => containers::prune(&wharf, args),
            ContainerCommand::Inspect(args) => containers::inspect(&wharf, args),
            ContainerCommand::Rm(args) => containers::rm(&wharf, args),
            ContainerCommand::Start(args) => containers::start(&wharf, args),
            ContainerCommand::Stop(args) => containers::stop(&wharf, args),
            ContainerCommand::Kill(args) => containers::kill(&wharf, args),
            ContainerCommand::Logs(args) => containers::logs(&wharf, args),
            ContainerCommand::Wait(args) => containers::wait(&wharf, args),
            ContainerCommand::Stats(args) => containers::stats(&wharf, args),
        },
        Command::Image(command) => match command {
            ImageCommand::Inspect(args) => images::inspect(&wharf, args),
            ImageCommand::Prune(args) => images::prune(&wharf, args),
            ImageCommand::Ls(args) => images::images(&wharf, args),
            ImageCommand::Rm(args) => images::rmi(&wharf, args),
            ImageCommand::Tag(args) => images::tag(&wharf, args),
            ImageCommand::Build(args) => images::build(&wharf, args),
            ImageCommand::Pull(args) => registry::pull(&wharf, args),
            ImageCommand::Push(args) => registry::push(&wharf, args),
            ImageCommand::Save(args) => images::save(&wharf, args),
            ImageCommand::Load(args) => images::load(&wharf, args),
        },
    }
}

/// A closed stdout (`wharf image inspect ... | head -1`) ends wharf quietly, as it ends other
/// Unix tools: Rust ignores SIGPIPE, which turns the next print into a panic with a backtrace.
/// Sockets are unaffected (Rust and tokio send with MSG_NOSIGNAL). A container's monitor (its
/// own binary) keeps ignoring it: its starter may be gone when it answers on the ready pipe.
fn restore_sigpipe() {
    // SAFETY: called before any thread starts; restoring a default disposition is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr, warnings and up unless `WHARF_LOG` asks for more (e.g. `WHARF_LOG=debug`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
}
