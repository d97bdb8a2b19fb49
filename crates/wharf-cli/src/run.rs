//! `wharf run`: flags to a sandbox policy, then the outcome to messages and an exit code.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wharf_core::{
    exit_code, ImageRun, NetworkMode, Outcome, SandboxPolicy, Stdin, StopHandle, StopReason, Wharf,
};

use crate::args;
use crate::{fail, ENGINE_FAILED};

/// `wharf run [OPTIONS] FILE [ARG...]`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Set an environment variable (KEY=VALUE), or pass one from wharf's environment (KEY).
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,

    /// Read environment variables from a file of KEY=VALUE lines.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,

    /// Grant a host directory: HOST_DIR:GUEST_DIR[:ro].
    #[arg(short = 'v', long = "volume", value_name = "HOST:GUEST[:ro]")]
    volume: Vec<String>,

    /// The guest's working directory.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    workdir: Option<String>,

    /// Keep stdin open for the guest (otherwise it reads end-of-file).
    #[arg(short = 'i', long = "interactive")]
    pub(crate) interactive: bool,

    /// Accepted for Docker habits (`-it`): the guest's stdio already is wharf's terminal.
    #[arg(short = 't', long = "tty")]
    _tty: bool,

    /// Run this program of the image instead of its ENTRYPOINT (drops the image's CMD too).
    #[arg(long = "entrypoint", value_name = "PATH")]
    pub(crate) entrypoint: Option<String>,

    /// Pull the image before running: missing (when not in the store), always, never.
    #[arg(long = "pull", value_name = "POLICY", default_value = "missing",
          value_parser = ["missing", "always", "never"])]
    pub(crate) pull: String,

    /// Do not print pull progress.
    #[arg(short = 'q', long = "quiet")]
    pub(crate) quiet: bool,

    /// Publish a port: [[HOST_IP:]HOST_PORT:]GUEST_PORT (a wasi:http component is served
    /// there; a guest listening on GUEST_PORT with wasi:sockets gets the host port).
    #[arg(short = 'p', long = "publish", value_name = "[[IP:]HOST:]GUEST")]
    pub(crate) publish: Vec<String>,

    /// Publish every port the image EXPOSEs on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub(crate) publish_all: bool,

    /// The guest's network: bridge (default: outgoing allowed, incoming only on published
    /// ports), host (the host's network as it is), none (no network at all), or a network
    /// made with `wharf network create`, whose members reach each other by name.
    #[arg(
        long = "network",
        alias = "net",
        value_name = "NETWORK",
        default_value = "bridge"
    )]
    pub(crate) network: String,

    /// Another name the container answers to on its user network.
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub(crate) network_aliases: Vec<String>,

    /// Run in the background as a container and print its ID.
    #[arg(short = 'd', long = "detach")]
    pub(crate) detach: bool,

    /// Name the container (run as a container, in the background with -d).
    #[arg(long = "name")]
    pub(crate) name: Option<String>,

    /// Remove the container when it ends.
    #[arg(long = "rm")]
    pub(crate) auto_remove: bool,

    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long = "restart", value_name = "POLICY", default_value = "no")]
    pub(crate) restart: String,

    /// Set a label on the container: KEY=VALUE (or KEY, for an empty value).
    #[arg(short = 'l', long = "label", value_name = "KEY[=VALUE]")]
    pub(crate) labels: Vec<String>,

    /// Log options: max-size=SIZE, max-file=N (Docker's json-file options).
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub(crate) log_opts: Vec<String>,

    /// Memory limit for the guest's linear memory, e.g. 64m or 1g.
    #[arg(short = 'm', long = "memory", value_name = "SIZE", value_parser = args::parse_size)]
    memory: Option<u64>,

    /// Stop the guest if it runs longer than this, e.g. 30s or 500ms.
    #[arg(long = "timeout", value_name = "DURATION", value_parser = args::parse_duration)]
    timeout: Option<Duration>,

    /// The share of a CPU the guest may use, e.g. 0.5 (a guest runs on one thread).
    #[arg(long = "cpus", value_name = "N", value_parser = args::parse_cpus)]
    cpus: Option<f64>,

    /// Mount the image's root filesystem read-only (volumes keep their own modes).
    #[arg(long = "read-only")]
    read_only: bool,

    /// Seconds `stop` waits for the guest before it kills it (default 10).
    #[arg(long = "stop-timeout", value_name = "SECONDS")]
    pub(crate) stop_timeout: Option<u64>,

    /// The image's platform: wasi/wasm, wasip1/wasm or wasip2/wasm (others are refused).
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub(crate) platform: Option<String>,

    /// Accepted from Docker+Wasm command lines (io.containerd.wasmtime.v1 and the like):
    /// wharf runs the guest itself.
    #[arg(long = "runtime", value_name = "RUNTIME")]
    runtime: Option<String>,

    /// Linux-process flags that mean nothing to a Wasm guest: accepted with a warning.
    #[command(flatten)]
    linux: crate::habits::LinuxFlags,

    /// The .wasm or .wat file, or an image, then the arguments passed to it.
    #[arg(
        value_name = "FILE|IMAGE [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

impl RunArgs {
    /// What `--network` names: a sandbox mode, or a user network to join.
    pub(crate) fn network_choice(&self) -> (NetworkMode, Option<wharf_core::UserNetwork>) {
        wharf_core::network_choice(&self.network, self.network_aliases.clone())
    }

    /// The sandbox policy the flags ask for; `-v NAME:/path` creates volume NAME on first use.
    pub(crate) fn policy(&self, wharf: &wharf_core::Wharf) -> Result<SandboxPolicy, String> {
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(args::env_file(file)?);
        }
        for entry in &self.env {
            env.extend(args::env_entry(entry)?);
        }
        let mounts = self
            .volume
            .iter()
            .map(|spec| wharf.bind_mount(spec).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        crate::habits::check(
            self.platform.as_deref(),
            self.runtime.as_deref(),
            &self.linux,
        )?;
        if self.command[0].starts_with('-') {
            return Err(format!(
                "unknown flag: {} (see 'wharf run --help'; name a file that starts with '-' as ./{0})",
                self.command[0]
            ));
        }
        if let Some(dir) = &self.workdir {
            if !dir.starts_with('/') {
                return Err(format!(
                    "invalid working directory {dir:?}: it must be an absolute path"
                ));
            }
        }
        let args = wharf_core::file_argv(&self.command[0], &self.command[1..]);
        Ok(SandboxPolicy {
            args,
            env,
            mounts,
            workdir: self.workdir.clone(),
            stdin: if self.interactive {
                Stdin::Inherit
            } else {
                Stdin::Closed
            },
            memory_limit: self.memory,
            timeout: self.timeout,
            cpus: self.cpus,
            read_only_rootfs: self.read_only,
            ports: self
                .publish
                .iter()
                .map(|p| args::parse_port(p))
                .collect::<Result<_, _>>()?,
            network: self.network_choice().0,
            ..Default::default()
        })
    }
}

/// Applies `--pull`: Docker says "Unable to find image ... locally" and pulls (on stderr,
/// since the guest owns stdout).
pub(crate) fn pull_if_needed(
    wharf: &Wharf,
    image: &str,
    policy: &str,
    quiet: bool,
) -> Result<(), wharf_core::Error> {
    let pull = match policy {
        "always" => true,
        "never" => false,
        _ => !wharf.image_exists(image)?,
    };
    if !pull {
        return Ok(());
    }
    if policy == "missing" {
        eprintln!("Unable to find image '{image}' locally");
    }
    crate::registry::pull_image(wharf, image, quiet, crate::registry::Output::Stderr)
}

/// Resolves what `-P` and `-p GUEST` leave open: adds every port the image EXPOSEs (with
/// `-P`), then gives each mapping without a host port a free one, so that the container
/// records (and `wharf port` shows) real ports. The image must be in the store.
pub(crate) fn publish(
    wharf: &Wharf,
    args: &RunArgs,
    policy: &mut SandboxPolicy,
) -> Result<(), wharf_core::Error> {
    let target = &args.command[0];
    let image = (!names_a_file(target)).then_some(target.as_str());
    wharf.resolve_ports(image, args.publish_all, &mut policy.ports)
}

/// Runs the guest and returns wharf's exit code.
pub fn run(wharf: &Wharf, args: RunArgs) -> i32 {
    let policy = match args.policy(wharf) {
        Ok(policy) => policy,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    let stop = StopHandle::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = stop.stop_on_signal(signal) {
            let error = format!("cannot install a handler for signal {signal}: {e}");
            return fail(error, ENGINE_FAILED);
        }
    }
    let target = &args.command[0];
    let mut policy = policy;
    let container = args.detach || args.name.is_some() || args.restart != "no";
    // Labels and a user network are a container's records: it is run as one.
    if container || !args.labels.is_empty() || args.network_choice().1.is_some() {
        return crate::containers::run_as_container(wharf, &args, policy);
    }
    if !names_a_file(target) {
        if let Err(e) = pull_if_needed(wharf, target, &args.pull, args.quiet) {
            return fail(crate::hints::login(&e, target), ENGINE_FAILED);
        }
    }
    if let Err(e) = publish(wharf, &args, &mut policy) {
        let code = e.start_exit_code();
        return fail(e, code);
    }
    if !policy.ports.is_empty() {
        let shown: Vec<String> = policy
            .ports
            .iter()
            .map(|p| format!("{}->{}/tcp", p.host, p.guest_port))
            .collect();
        let name = target.clone();
        policy.on_start = wharf_core::StartHook::new(move || {
            eprintln!("wharf: {name} started, published on {}", shown.join(", "));
        });
    }
    let name = target.clone();
    let result = if names_a_file(target) {
        wharf.run_file(&PathBuf::from(target), &policy, &stop)
    } else {
        let run = ImageRun {
            entrypoint: args.entrypoint.clone(),
            args: args.command[1..].to_vec(),
            digest: None,
            rootfs: None,
        };
        wharf.run_image(target, &run, &policy, &stop)
    };
    match result {
        Ok(outcome) => {
            report(&name, &outcome);
            exit_code(&outcome)
        }
        Err(e) => fail(crate::hints::missing_image(&e, &name), e.start_exit_code()),
    }
}

/// Whether `wharf run X` means a file rather than an image: it exists, is a path, or ends
/// in .wasm or .wat.
pub(crate) fn names_a_file(target: &str) -> bool {
    target.ends_with(".wasm")
        || target.ends_with(".wat")
        || target.starts_with('/')
        || target.starts_with("./")
        || target.starts_with("../")
        || std::path::Path::new(target).exists()
}

/// Says on stderr how the guest ended, unless it simply exited.
fn report(name: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Exited {
            code,
            memory_limit_hit: true,
        } if *code != 0 => {
            eprintln!("wharf: note: {name} was refused memory by its --memory limit before it exited with code {code}");
        }
        Outcome::Exited { .. } => {}
        Outcome::Trapped { message, backtrace } => {
            eprintln!("wharf: {name} trapped: {message}");
            if let Some(backtrace) = backtrace {
                eprintln!("{}", backtrace.trim_end());
            }
        }
        Outcome::OutOfMemory { limit, detail } => {
            eprintln!(
                "wharf: {name} ran out of memory: it reached its --memory limit of {} and then died ({detail})",
                crate::units::exact(*limit)
            );
        }
        Outcome::Stopped(StopReason::Timeout(after)) => {
            eprintln!(
                "wharf: {name} was stopped: it ran longer than its --timeout of {}",
                humantime::format_duration(*after)
            );
        }
        Outcome::Stopped(StopReason::Signal(signal)) => {
            let signal = wharf_core::Signal::from_number(*signal).name();
            eprintln!("wharf: {name} was stopped by {signal}");
        }
    }
}
