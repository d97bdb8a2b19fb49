//! `wharf pull`, `wharf push`, `wharf login`, `wharf logout`, and the progress they show.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::sync::{Arc, Mutex};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use wharf_core::docker::{PullMessage, PushMessage};
use wharf_core::{BlobEvent, Credentials, Progress, Reference, RegistryOptions, Wharf};

use crate::{fail, ENGINE_FAILED};

/// `wharf pull [-q] NAME[:TAG|@DIGEST]`
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Print only the image name at the end.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// The platform to pull: wasi/wasm, wasip1/wasm or wasip2/wasm (others are refused).
    #[arg(long = "platform", value_name = "PLATFORM")]
    platform: Option<String>,
    /// The image to pull.
    image: String,
}

/// `wharf push [-q] NAME[:TAG]`
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print nothing but errors.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// The image to push; its name says where.
    image: String,
}

/// `wharf login [-u USER] [-p PASS | --password-stdin] [SERVER]`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name.
    #[arg(short = 'u', long = "username")]
    username: Option<String>,
    /// Password or token (visible to other users in `ps`; prefer --password-stdin).
    #[arg(short = 'p', long = "password")]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long = "password-stdin")]
    password_stdin: bool,
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

/// `wharf logout [SERVER]`
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

/// Registry options from the environment, with progress drawn unless `quiet`.
/// Environment variable listing registries (`host[:port]`, comma-separated) to reach over plain
/// HTTP; Docker keeps the same list as `insecure-registries` in daemon.json.
const INSECURE_REGISTRIES_ENV: &str = "WHARF_INSECURE_REGISTRIES";

/// Environment variable with the seconds a registry may stay silent before wharf gives up.
const REGISTRY_TIMEOUT_ENV: &str = "WHARF_REGISTRY_TIMEOUT";

/// Registry options from wharf's environment (the CLI's configuration, as daemon.json is
/// dockerd's) ([`INSECURE_REGISTRIES_ENV`],
/// [`REGISTRY_TIMEOUT_ENV`]); credentials come from Docker's config file.
pub(crate) fn registry_options_from_env() -> Result<RegistryOptions, wharf_core::Error> {
    let mut options = RegistryOptions::default();
    if let Ok(list) = std::env::var(INSECURE_REGISTRIES_ENV) {
        options.insecure = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    if let Ok(seconds) = std::env::var(REGISTRY_TIMEOUT_ENV) {
        let seconds: f64 = seconds.parse().map_err(|_| {
            wharf_core::Error::InvalidArgument(format!(
                "{REGISTRY_TIMEOUT_ENV}={seconds:?} is not a number of seconds"
            ))
        })?;
        options.timeout = std::time::Duration::from_secs_f64(seconds.max(0.1));
    }
    Ok(options)
}

fn options(quiet: bool, out: Output) -> Result<RegistryOptions, wharf_core::Error> {
    let mut options = registry_options_from_env()?;
    if !quiet {
        options.progress = Arc::new(ProgressView::new(out));
    }
    Ok(options)
}

/// Where pull and push report: stdout for `wharf pull`, stderr when `wharf run` pulls (the
/// guest owns stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Output {
    fn line(self, text: impl std::fmt::Display) {
        match self {
            Output::Stdout => println!("{text}"),
            Output::Stderr => eprintln!("{text}"),
        }
    }
}

/// Pulls, printing what Docker prints.
pub fn pull(wharf: &Wharf, args: PullArgs) -> i32 {
    if let Err(e) = wharf_core::check_platform(args.platform.as_deref().unwrap_or("")) {
        return fail(e, 1);
    }
    match pull_image(wharf, &args.image, args.quiet, Output::Stdout) {
        Ok(()) => 0,
        Err(e) => fail(crate::hints::login(&e, &args.image), 1),
    }
}

/// Pulls `image`, as `wharf pull` and `wharf run` of a missing image do.
pub fn pull_image(
    wharf: &Wharf,
    image: &str,
    quiet: bool,
    out: Output,
) -> Result<(), wharf_core::Error> {
    let reference = Reference::parse(image).map_err(wharf_core::Error::InvalidArgument)?;
    if !quiet {
        for message in PullMessage::before(image, &reference) {
            out.line(message.text());
        }
    }
    let pulled = wharf.pull(image, &options(quiet, out)?)?;
    if quiet {
        if out == Output::Stdout {
            println!("{reference}");
        }
        return Ok(());
    }
    for message in PullMessage::after(&reference, &pulled) {
        out.line(message.text());
    }
    out.line(&reference);
    Ok(())
}

/// Pushes, printing what Docker prints.
pub fn push(wharf: &Wharf, args: PushArgs) -> i32 {
    let run = || -> Result<(), wharf_core::Error> {
        let reference =
            Reference::parse(&args.image).map_err(wharf_core::Error::InvalidArgument)?;
        if !args.quiet {
            println!("{}", PushMessage::before(&reference).text());
        }
        let pushed = wharf.push(&args.image, &options(args.quiet, Output::Stdout)?)?;
        if !args.quiet {
            println!("{}", PushMessage::after(&reference, &pushed).text());
        }
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => fail(crate::hints::untagged_push(&e, &args.image), 1),
    }
}

/// Logs in, asking for what the flags did not give.
pub fn login(wharf: &Wharf, args: LoginArgs) -> i32 {
    let run = || -> Result<(), String> {
        let username = match args.username {
            Some(u) => u,
            None => prompt("Username: ")?,
        };
        let password = match (args.password, args.password_stdin) {
            (Some(_), true) => return Err("--password and --password-stdin are exclusive".into()),
            (Some(p), false) => {
                eprintln!(
                    "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
                );
                p
            }
            (None, true) => {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| format!("reading the password from stdin: {e}"))?;
                line.trim_end_matches(['\n', '\r']).to_string()
            }
            (None, false) => prompt("Password: ")?,
        };
        if username.is_empty() || password.is_empty() {
            return Err("a user name and a password are needed".into());
        }
        let credentials = Credentials { username, password };
        let options = registry_options_from_env().map_err(|e| e.to_string())?;
        let path = wharf
            .login(args.server.as_deref(), &credentials, &options)
            .map_err(|e| e.to_string())?;
        eprintln!(
            "WARNING! Your password will be stored unencrypted in {}.",
            path.display()
        );
        println!("Login Succeeded");
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => fail(e, 1),
    }
}

/// Logs out.
pub fn logout(wharf: &Wharf, args: LogoutArgs) -> i32 {
    let registry = wharf_core::normalize_registry(args.server.as_deref());
    match wharf.logout(args.server.as_deref()) {
        Ok(true) => {
            println!("Removing login credentials for {registry}");
            0
        }
        Ok(false) => {
            println!("Not logged in to {registry}");
            0
        }
        Err(e) => fail(e, ENGINE_FAILED),
    }
}

fn prompt(label: &str) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{} was not given and stdin is not a terminal (use -u and --password-stdin)",
            label.trim_end_matches([':', ' '])
        ));
    }
    eprint!("{label}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Progress on a terminal: one bar per blob; elsewhere: one line per finished blob, as
/// `docker pull` prints when its output is not a terminal.
struct ProgressView {
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    out: Output,
}

impl ProgressView {
    fn new(out: Output) -> ProgressView {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| (MultiProgress::new(), Mutex::new(HashMap::new())));
        ProgressView { bars, out }
    }
}

impl Progress for ProgressView {
    fn blob(&self, digest: &wharf_core::Digest, event: BlobEvent) {
        let id = wharf_core::short_id(digest.hex()).to_string();
        let Some((multi, bars)) = &self.bars else {
            match event {
                BlobEvent::AlreadyExists => self.out.line(format!("{id}: Already exists")),
                BlobEvent::Done => self.out.line(format!("{id}: Complete")),
                BlobEvent::Started(_) | BlobEvent::Advanced(_) => {}
            }
            return;
        };
        let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            BlobEvent::AlreadyExists => {
                let _ = multi.println(format!("{id}: Already exists"));
            }
            BlobEvent::Started(size) => {
                let bar = multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(id.clone());
                bars.insert(id, bar);
            }
            BlobEvent::Advanced(done) => {
                if let Some(bar) = bars.get(&id) {
                    bar.set_position(done);
                }
            }
            BlobEvent::Done => {
                if let Some(bar) = bars.remove(&id) {
                    bar.finish_and_clear();
                }
                let _ = multi.println(format!("{id}: Complete"));
            }
        }
    }
}
