//! Container verbs: `run -d`, `create`, `start`, `ps`, `logs`, `stop`, `kill`, `restart`,
//! `rm`, `wait`, `inspect`, `stats`, `container prune`.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use wharf_core::{
    docker, logs, Container, ContainerSpec, LogItem, LogLimits, LogQuery, LogStream, RestartPolicy,
    RunTarget, SandboxPolicy, Wharf,
};

use crate::format::{self, Column, Listing, Row};
use crate::run::RunArgs;
use crate::{fail, ENGINE_FAILED};

/// Docker's exit code for a container verb that failed.
pub(crate) const VERB_FAILED: i32 = 1;

fn spec_from(args: &RunArgs, policy: SandboxPolicy) -> Result<ContainerSpec, String> {
    let restart = RestartPolicy::parse(&args.restart)?;
    let options: Vec<(&str, &str)> = args
        .log_opts
        .iter()
        .map(|opt| opt.split_once('=').unwrap_or((opt.as_str(), "")))
        .collect();
    let log = LogLimits::from_options(options)?;
    Ok(ContainerSpec {
        name: args.name.clone(),
        target: match crate::run::names_a_file(&args.command[0]) {
            true => RunTarget::File(args.command[0].clone().into()),
            false => RunTarget::Image(args.command[0].clone()),
        },
        args: args.command[1..].to_vec(),
        entrypoint: args.entrypoint.clone(),
        policy,
        restart,
        auto_remove: args.auto_remove,
        log,
        labels: args
            .labels
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.clone(), String::new()),
            })
            .collect(),
        tty: false,
        open_stdin: false,
        user_network: args.network_choice().1,
        stop_timeout: args.stop_timeout.map(Duration::from_secs),
    })
}

/// Creates the container `args` describe (pulling its image if needed).
fn create_from(
    wharf: &Wharf,
    args: &RunArgs,
    mut policy: SandboxPolicy,
) -> Result<String, (String, i32)> {
    if !crate::run::names_a_file(&args.command[0]) {
        crate::run::pull_if_needed(wharf, &args.command[0], &args.pull, args.quiet)
            .map_err(|e| (crate::hints::login(&e, &args.command[0]), ENGINE_FAILED))?;
    }
    crate::run::publish(wharf, args, &mut policy)
        .map_err(|e| (e.to_string(), e.start_exit_code()))?;
    let spec = spec_from(args, policy).map_err(|e| (e, ENGINE_FAILED))?;
    let config = wharf
        .create_container(&spec)
        .map_err(|e| (e.to_string(), e.start_exit_code()))?;
    Ok(config.id)
}

/// `wharf run -d` (print the ID) or `wharf run --name/--restart` in the foreground (attach).
pub fn run_as_container(wharf: &Wharf, args: &RunArgs, policy: SandboxPolicy) -> i32 {
    if args.interactive {
        return fail(
            "-i cannot be combined with a container run (-d, --name, --restart): its stdin is closed",
            ENGINE_FAILED,
        );
    }
    let id = match create_from(wharf, args, policy) {
        Ok(id) => id,
        Err((e, code)) => return fail(e, code),
    };
    if let Err(e) = wharf.start_container(&id) {
        let code = e.start_exit_code();
        if args.auto_remove {
            let _ = wharf.remove_container(&id, true);
        }
        return fail(e, code);
    }
    if args.detach {
        println!("{id}");
        return 0;
    }
    let everything = LogQuery {
        follow: true,
        ..Default::default()
    };
    match wharf.logs(&id, everything) {
        Ok(log) => attach(wharf, &id, log),
        Err(e) => fail(e, ENGINE_FAILED),
    }
}

/// Prints `log` (a following stream of the container `id`) to stdout/stderr until the container
/// ends; returns its exit code. SIGINT and SIGTERM are passed on to the container (Docker's
/// sig-proxy).
pub(crate) fn attach(wharf: &Wharf, id: &str, log: LogStream<'_>) -> i32 {
    let signal = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for s in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_usize(s, signal.clone(), s as usize);
    }
    let printed = print_log(log, false, &mut || {
        let s = signal.swap(0, std::sync::atomic::Ordering::SeqCst);
        if s != 0 {
            let _ = wharf.kill_container(id, s as i32);
        }
    });
    if let Err(e) = printed {
        return fail(e, ENGINE_FAILED);
    }
    match wharf.wait_container(id) {
        Ok(code) => code,
        Err(e) => fail(e, ENGINE_FAILED),
    }
}

/// A following stream of everything container `id` writes from now on.
pub(crate) fn new_output<'a>(
    wharf: &'a Wharf,
    id: &str,
) -> Result<LogStream<'a>, wharf_core::Error> {
    wharf.logs(
        id,
        LogQuery {
            tail: Some(0),
            follow: true,
            ..Default::default()
        },
    )
}

/// `wharf create [OPTIONS] IMAGE|FILE [ARG...]`: as `run`, without starting.
pub fn create(wharf: &Wharf, args: RunArgs) -> i32 {
    let policy = match args.policy(wharf) {
        Ok(p) => p,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    match create_from(wharf, &args, policy) {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err((e, code)) => fail(e, code),
    }
}

/// `wharf start [-a] CONTAINER...`
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach: follow the output and exit with the container's code.
    #[arg(short = 'a', long = "attach")]
    attach: bool,
    /// Start every container whose restart policy is always or unless-stopped and that was
    /// not stopped by the user (after a reboot: there is no daemon to do it).
    #[arg(long = "all")]
    all: bool,
    /// Containers.
    containers: Vec<String>,
}

/// Starts containers.
pub fn start(wharf: &Wharf, args: StartArgs) -> i32 {
    let mut names = args.containers.clone();
    if args.all {
        match wharf.containers_to_revive() {
            Ok((ids, notes)) => {
                notes.iter().for_each(|n| eprintln!("wharf: {n}"));
                names.extend(ids);
            }
            Err(e) => return fail(e, VERB_FAILED),
        }
    } else if names.is_empty() {
        return fail("start needs at least one container (or --all)", VERB_FAILED);
    }
    let mut code = 0;
    for name in &names {
        // Attached, only this run's output is shown: the stream starts where earlier runs
        // left the log.
        let log = match args.attach && names.len() == 1 {
            true => match new_output(wharf, name) {
                Ok(log) => Some(log),
                Err(e) => return fail(e, VERB_FAILED),
            },
            false => None,
        };
        match wharf.start_container(name) {
            Ok(id) if log.is_some() => return attach(wharf, &id, log.expect("checked")),
            Ok(_) => println!("{name}"),
            Err(e) => code = fail(e, VERB_FAILED),
        }
    }
    code
}

/// `wharf stop [-t SECONDS] CONTAINER...` (also used by `restart`)
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for the guest to stop before killing it (default: the container's
    /// --stop-timeout, else 10).
    #[arg(short = 't', long = "time")]
    time: Option<u64>,
    /// Containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Stops containers.
pub fn stop(wharf: &Wharf, args: StopArgs) -> i32 {
    each(&args.containers, |c| {
        wharf.stop_container(c, args.time.map(Duration::from_secs))
    })
}

/// Restarts containers.
pub fn restart(wharf: &Wharf, args: StopArgs) -> i32 {
    each(&args.containers, |c| {
        wharf.stop_container(c, args.time.map(Duration::from_secs))?;
        wharf.start_container(c).map(drop)
    })
}

/// `wharf kill [-s SIGNAL] CONTAINER...`
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal: KILL (default), TERM, INT, or a number.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    signal: String,
    /// Containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Kills containers.
pub fn kill(wharf: &Wharf, args: KillArgs) -> i32 {
    let signal = match wharf_core::Signal::parse(&args.signal) {
        Ok(signal) => signal.number(),
        Err(e) => return fail(e, VERB_FAILED),
    };
    each(&args.containers, |c| wharf.kill_container(c, signal))
}

/// `wharf rm [-f] CONTAINER...`
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Removes containers.
pub fn rm(wharf: &Wharf, args: RmArgs) -> i32 {
    each(&args.containers, |c| {
        wharf
            .remove_container(c, args.force)
            .map(drop)
            .map_err(|e| crate::hints::running_container(&e))
    })
}

/// Applies `verb` to each container, printing its name as Docker does; exit 1 if any failed.
fn each<E: std::fmt::Display>(
    names: &[String],
    mut verb: impl FnMut(&str) -> Result<(), E>,
) -> i32 {
    let mut code = 0;
    for name in names {
        match verb(name) {
            Ok(()) => println!("{name}"),
            Err(e) => code = fail(e, VERB_FAILED),
        }
    }
    code
}

/// `wharf wait CONTAINER...`
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Prints each container's exit code once it has ended.
pub fn wait(wharf: &Wharf, args: WaitArgs) -> i32 {
    let mut code = 0;
    for name in &args.containers {
        match wharf.wait_container(name) {
            Ok(exit) => println!("{exit}"),
            Err(e) => code = fail(e, VERB_FAILED),
        }
    }
    code
}

/// `wharf ps [-a] [-q] [-n N] [-l] [--filter K=V] [--format FORMAT] [--no-trunc]`
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, not only running ones.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Only IDs.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Filters: status=, name=, id=, ancestor=, label=, network=, volume=...
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// A Go template (`{{.Names}}`, `table {{.ID}}\t{{.Status}}`, `{{json .}}`) or `json`.
    #[arg(long = "format")]
    format: Option<String>,
    /// Show full IDs and commands.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// The N most recently created containers (all states).
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<usize>,
    /// The most recently created container (all states).
    #[arg(short = 'l', long = "latest")]
    latest: bool,
}

/// `ps`'s fields, as Docker's `--format` names them.
const PS: Listing = Listing {
    columns: &[
        Column { field: "ID", header: "CONTAINER ID" },
        Column { field: "Image", header: "IMAGE" },
        Column { field: "Command", header: "COMMAND" },
        Column { field: "CreatedAt", header: "CREATED AT" },
        Column { field: "RunningFor", header: "CREATED" },
        Column { field: "Ports", header: "PORTS" },
        Column { field: "State", header: "STATE" },
        Column { field: "Status", header: "STATUS" },
        Column { field: "Names", header: "NAMES" },
        Column { field: "Labels", header: "LABELS" },
        Column { field: "Mounts", header: "MOUNTS" },
        Column { field: "Networks", header: "NETWORKS" },
    ],
    default: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
};

/// Lists containers.
pub fn ps(wharf: &Wharf, args: PsArgs) -> i32 {
    let query = wharf_core::ContainerQuery::from_pairs(args.all, &args.filters).map(|q| {
        let last = if args.latest { Some(1) } else { args.last };
        wharf_core::ContainerQuery { last, ..q }
    });
    let (shown, notes) = match query.and_then(|query| wharf.query_containers(&query)) {
        Ok(x) => x,
        Err(e) => return fail(e, VERB_FAILED),
    };
    notes.iter().for_each(|n| eprintln!("wharf: {n}"));
    if args.quiet {
        for c in &shown {
            println!("{}", listed_id(&c.config.id, args.no_trunc));
        }
        return 0;
    }
    let rows: Vec<Row> = shown.iter().map(|c| ps_row(c, args.no_trunc)).collect();
    match format::print_rows(&PS, args.format.as_deref(), &rows) {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// A container ID as listings show it: Docker's 12 characters unless `no_trunc`.
fn listed_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        wharf_core::short_id(id)
    }
}

/// A container as `ps` shows it: Docker's fields, truncated as Docker's unless `no_trunc`.
fn ps_row(c: &Container, no_trunc: bool) -> Row {
    let summary = docker::container_summary(c);
    let command = summary.command.unwrap_or_default();
    let id = listed_id(&c.config.id, no_trunc).to_string();
    let (image, command) = if no_trunc {
        (c.config.target.display().to_string(), command)
    } else {
        (
            keep_end(c.config.target.display(), 30),
            truncate(&command, 20),
        )
    };
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mounts: Vec<&str> = c.config.mounts.iter().map(|m| m.guest.as_str()).collect();
    Row::from([
        ("ID", id),
        ("Image", image),
        ("Command", format!("\"{command}\"")),
        ("CreatedAt", c.config.created.clone()),
        ("RunningFor", docker::time_ago(&c.config.created)),
        ("Ports", ports_text(c)),
        ("State", c.state.status.name().to_string()),
        ("Status", summary.status.unwrap_or_default()),
        ("Names", c.config.name.clone()),
        ("Labels", labels.join(",")),
        ("Mounts", mounts.join(",")),
        ("Networks", c.config.network.clone()),
    ])
}

/// `text` cut to `width` characters at its end (Docker's `…` where it was cut).
fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let cut: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `text` cut to `width` characters at its front, keeping the end: a file's name is what
/// tells two file containers apart.
fn keep_end(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let kept: String = text.chars().skip(count - width.saturating_sub(1)).collect();
    format!("…{kept}")
}

/// `wharf logs [-f] [--tail N] [-t] [--since TIME] CONTAINER`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output until the container ends.
    #[arg(short = 'f', long = "follow")]
    follow: bool,
    /// Only the last N lines ("all" for everything).
    #[arg(short = 'n', long = "tail", default_value = "all")]
    tail: String,
    /// Prefix each line with its time.
    #[arg(short = 't', long = "timestamps")]
    timestamps: bool,
    /// Only lines since this RFC 3339 time or this long ago (e.g. 10m).
    #[arg(long = "since")]
    since: Option<String>,
    /// Only lines up to this RFC 3339 time or this long ago.
    #[arg(long = "until")]
    until: Option<String>,
    /// The container.
    container: String,
}

/// Prints a container's output: stdout lines to stdout, stderr lines to stderr.
pub fn logs(wharf: &Wharf, args: LogsArgs) -> i32 {
    let tail = match args.tail.as_str() {
        "all" => None,
        n => match n.parse() {
            Ok(n) => Some(n),
            Err(_) => return fail(format!("invalid --tail {n:?}"), VERB_FAILED),
        },
    };
    let (since, until) = match (time_arg(&args.since), time_arg(&args.until)) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(text), _) => return fail(format!("invalid --since {text:?}"), VERB_FAILED),
        (_, Err(text)) => return fail(format!("invalid --until {text:?}"), VERB_FAILED),
    };
    let query = LogQuery {
        tail,
        since,
        until,
        follow: args.follow,
        from_start: false,
    };
    let printed = wharf
        .logs(&args.container, query)
        .and_then(|log| print_log(log, args.timestamps, &mut || {}));
    match printed {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// `--since`/`--until`: an RFC 3339 time, Unix seconds (`1700000000.5`), or how long ago
/// (`10m`), as Docker takes them.
pub(crate) fn time_arg(text: &Option<String>) -> Result<Option<std::time::SystemTime>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    humantime::parse_rfc3339_weak(text)
        .ok()
        .or_else(|| {
            let seconds: f64 = text
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(seconds))
        })
        .or_else(|| {
            humantime::parse_duration(text)
                .ok()
                .map(|d| std::time::SystemTime::now() - d)
        })
        .map(Some)
        .ok_or_else(|| text.clone())
}

/// Prints the entries of `log`, calling `between` whenever it waits for more.
fn print_log(
    log: LogStream<'_>,
    timestamps: bool,
    between: &mut dyn FnMut(),
) -> Result<(), wharf_core::Error> {
    for item in log {
        match item? {
            LogItem::Entry(entry) => print_entry(&entry, timestamps),
            LogItem::Waiting => between(),
        }
    }
    Ok(())
}

fn print_entry(entry: &logs::Entry, timestamps: bool) {
    let text = if timestamps {
        format!("{} {}", entry.time, entry.log)
    } else {
        entry.log.clone()
    };
    if entry.stream == logs::Stream::Stderr {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// `wharf inspect CONTAINER...` (containers; `wharf image inspect` for images)
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template applied to each object (`{{.State.Status}}`, `{{json .Config}}`).
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    /// Containers (or images, when no container has the name).
    #[arg(required = true)]
    names: Vec<String>,
}

/// Prints Docker-shaped JSON for containers; names that are not containers are tried as
/// images, as `docker inspect` does.
pub fn inspect(wharf: &Wharf, args: InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for name in &args.names {
        match wharf.inspect_container(name) {
            Ok((c, note)) => {
                if let Some(note) = note {
                    eprintln!("wharf: {note}");
                }
                found.push(serde_json::to_value(c).expect("inspect serializes"));
            }
            Err(_) => match wharf.inspect_image(name) {
                Ok(image) => found.push(serde_json::to_value(image).expect("inspect serializes")),
                Err(_) => code = fail(format!("no such object: {name}"), VERB_FAILED),
            },
        }
    }
    match format::print_objects(args.format.as_deref(), &found) {
        Ok(()) => code,
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// Docker's PORTS text: `127.0.0.1:8080->80/tcp, ...`.
fn ports_text(c: &Container) -> String {
    c.config
        .ports
        .iter()
        .map(|p| format!("{}:{}->{}/tcp", p.host_ip, p.host_port, p.guest_port))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `wharf port CONTAINER [PRIVATE_PORT[/PROTO]]`
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container.
    container: String,
    /// Only where this guest port is published (`80` or `80/tcp`).
    private_port: Option<String>,
}

/// Prints a container's published ports as `docker port` does (`80/tcp -> 0.0.0.0:8080`;
/// with a port, only its host addresses).
pub fn port(wharf: &Wharf, args: PortArgs) -> i32 {
    let (c, _) = match wharf.container(&args.container) {
        Ok(found) => found,
        Err(e) => return fail(e, VERB_FAILED),
    };
    let Some(asked) = &args.private_port else {
        for p in &c.config.ports {
            println!("{}/tcp -> {}:{}", p.guest_port, p.host_ip, p.host_port);
        }
        return 0;
    };
    let (number, proto) = asked.split_once('/').unwrap_or((asked, "tcp"));
    let Ok(number) = number.parse::<u16>() else {
        return fail(
            format!("invalid port {asked:?}: PORT or PORT/tcp"),
            VERB_FAILED,
        );
    };
    let published: Vec<_> = c
        .config
        .ports
        .iter()
        .filter(|p| p.guest_port == number)
        .collect();
    if proto != "tcp" || published.is_empty() {
        let name = &args.container;
        return fail(
            format!("no public port '{number}/{proto}' published for {name}"),
            VERB_FAILED,
        );
    }
    for p in published {
        println!("{}:{}", p.host_ip, p.host_port);
    }
    0
}

/// `wharf stats [--no-stream] [CONTAINER...]`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one sample and exit.
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// A Go template (`table {{.Name}}\t{{.MemUsage}}`) or `json`.
    #[arg(long = "format")]
    format: Option<String>,
    /// Show full container IDs.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Containers (default: all running).
    containers: Vec<String>,
}

/// `stats`' fields: Docker's, and the monitor's CPU time and resident memory.
const STATS: Listing = Listing {
    columns: &[
        Column { field: "ID", header: "CONTAINER ID" },
        Column { field: "Container", header: "CONTAINER" },
        Column { field: "Name", header: "NAME" },
        Column { field: "CPUPerc", header: "CPU %" },
        Column { field: "CPUTime", header: "CPU TIME" },
        Column { field: "MemUsage", header: "MEM USAGE / LIMIT" },
        Column { field: "MemPerc", header: "MEM %" },
        Column { field: "NetIO", header: "NET I/O" },
        Column { field: "BlockIO", header: "BLOCK I/O" },
        Column { field: "PIDs", header: "PIDS" },
        Column { field: "RSS", header: "RSS" },
    ],
    default: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.CPUTime}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}\t{{.RSS}}",
};

/// Prints CPU and memory per running container: the guest's linear memory from the engine,
/// the monitor's RSS and CPU time from /proc.
pub fn stats(wharf: &Wharf, args: StatsArgs) -> i32 {
    loop {
        let samples = match wharf.container_stats(&args.containers, Duration::from_millis(500)) {
            Ok(samples) => samples,
            Err(e) => return fail(e, VERB_FAILED),
        };
        if !args.no_stream {
            print!("\x1b[2J\x1b[H");
        }
        let rows: Vec<Row> = samples
            .iter()
            .map(|s| stats_row(s, args.no_trunc))
            .collect();
        if let Err(e) = format::print_rows(&STATS, args.format.as_deref(), &rows) {
            return fail(e, VERB_FAILED);
        }
        if args.no_stream {
            return 0;
        }
    }
}

fn stats_row(r: &wharf_core::ContainerStats, no_trunc: bool) -> Row {
    let limit = r.memory_limit.map_or("-".to_string(), crate::units::binary);
    let percent = r.memory_limit.map_or("-".to_string(), |l| {
        format!("{:.2}%", r.memory as f64 * 100.0 / l as f64)
    });
    let id = listed_id(&r.id, no_trunc).to_string();
    Row::from([
        ("ID", id.clone()),
        ("Container", id),
        ("Name", r.name.clone()),
        ("CPUPerc", format!("{:.2}%", r.cpu_percent)),
        ("CPUTime", format!("{:.2}s", r.cpu_time.as_secs_f64())),
        (
            "MemUsage",
            format!("{} / {limit}", crate::units::binary(r.memory)),
        ),
        ("MemPerc", percent),
        // A guest has no network interface or block device of its own to count.
        ("NetIO", "--".to_string()),
        ("BlockIO", "--".to_string()),
        ("PIDs", r.pids.to_string()),
        ("RSS", crate::units::binary(r.rss)),
    ])
}

/// `wharf container prune [-f]`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'f', long = "force")]
    force: bool,
}

/// Removes every stopped container.
pub fn prune(wharf: &Wharf, args: PruneArgs) -> i32 {
    if !args.force && !crate::units::confirm("This will remove all stopped containers.") {
        return 0;
    }
    match wharf.prune_containers() {
        Ok(ids) => {
            if !ids.is_empty() {
                println!("Deleted Containers:");
                ids.iter().for_each(|id| println!("{id}"));
                println!();
            }
            0
        }
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// `wharf rename CONTAINER NEW_NAME`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container (name or ID).
    container: String,
    /// Its new name.
    name: String,
}

/// Renames a container.
pub fn rename(wharf: &Wharf, args: RenameArgs) -> i32 {
    match wharf.rename_container(&args.container, &args.name) {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}
