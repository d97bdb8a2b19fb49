//! What a container is on disk: the config it was created with (never changed afterwards) and
//! its state (changed by its monitor, or by whoever finds the monitor dead).

use serde::{Deserialize, Serialize};

/// What to run and how: everything `wharf run`/`create` was told. Written once at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// 64 hex digits.
    pub id: String,
    /// Unique among containers; Docker-style `adjective_name` unless given.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The image reference or the `.wasm`/`.wat` file.
    pub target: Target,
    /// Arguments after the image or file.
    #[serde(default)]
    pub args: Vec<String>,
    /// A program replacing the image's entrypoint.
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// Environment variables, resolved at creation.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Directories granted, with host paths made absolute at creation.
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// The working directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// The memory limit, in bytes.
    #[serde(default)]
    pub memory: Option<u64>,
    /// The longest a run may take, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The share of one CPU the guest may use (`--cpus`), in billionths (Docker's NanoCpus).
    #[serde(default)]
    pub nano_cpus: Option<u64>,
    /// The root filesystem is read-only (`--read-only`).
    #[serde(default)]
    pub read_only: bool,
    /// Seconds `stop` waits before killing (`--stop-timeout`); Docker's 10 when unset.
    #[serde(default)]
    pub stop_timeout: Option<u64>,
    /// When the monitor starts the guest again.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Remove the container when it ends for good.
    #[serde(default)]
    pub auto_remove: bool,
    /// How much log to keep.
    #[serde(default)]
    pub log: LogLimits,
    /// Published ports (`-p`, `-P`), host ports resolved at creation.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// The network mode: `bridge`, `host` or `none`.
    #[serde(default = "bridge")]
    pub network: String,
    /// Labels (`--label KEY=VALUE`), for filters and for tools that group containers.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Docker's `Tty`: clients read its output as one raw stream, not as stdout and stderr
    /// frames (the guest's output is not a terminal).
    #[serde(default)]
    pub tty: bool,
    /// Docker's `OpenStdin` (`-i`): the guest reads what an attached client sends, through
    /// the FIFO `stdin` in the container's directory.
    #[serde(default)]
    pub open_stdin: bool,
}

fn bridge() -> String {
    "bridge".into()
}

impl ContainerConfig {
    /// A new container named `name` (empty: one is generated at creation) running `target`,
    /// with a fresh ID, created now, and wharf's defaults for everything else: no arguments,
    /// no grants, no limits, no restarts, the default log limits, the bridge network.
    pub fn new(name: &str, target: Target) -> ContainerConfig {
        ContainerConfig {
            id: crate::new_id(),
            name: name.to_string(),
            created: crate::now_rfc3339(),
            target,
            args: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            mounts: Vec::new(),
            workdir: None,
            memory: None,
            timeout_ms: None,
            nano_cpus: None,
            read_only: false,
            stop_timeout: None,
            restart: RestartPolicy::No,
            auto_remove: false,
            log: LogLimits::default(),
            ports: Vec::new(),
            network: bridge(),
            labels: Default::default(),
            tty: false,
            open_stdin: false,
        }
    }
}

/// A published port: a host address forwarded to a guest port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// Host address to listen on (`0.0.0.0` when not given); stored as its text, so a
    /// damaged one fails to load rather than run with another grant.
    pub host_ip: std::net::IpAddr,
    /// Host port.
    pub host_port: u16,
    /// Guest port.
    pub guest_port: u16,
}

/// What a container runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// An image, pinned at creation by its manifest digest (as Docker pins the image ID), so
    /// that retagging the name later does not change what the container runs.
    Image {
        /// As the user wrote it.
        reference: String,
        /// The manifest digest it named at creation.
        digest: String,
    },
    /// A file on the host (absolute path).
    File {
        /// The `.wasm` or `.wat` file.
        path: String,
    },
}

impl Target {
    /// What `ps` shows in its IMAGE column.
    pub fn display(&self) -> &str {
        match self {
            Target::Image { reference, .. } => reference,
            Target::File { path } => path,
        }
    }
}

/// A directory granted to the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// Absolute host path.
    pub host: String,
    /// Guest path.
    pub guest: String,
    /// `:ro`.
    pub read_only: bool,
}

/// Docker's restart policies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// Never restart.
    #[default]
    No,
    /// Restart after a non-zero exit, at most `max` times when given.
    OnFailure {
        /// The most restarts.
        max: Option<u32>,
    },
    /// Restart after every exit (not after `stop`/`kill`).
    Always,
    /// As `Always`; differs only in what `wharf start --all` brings back after a reboot.
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    pub fn parse(text: &str) -> Result<RestartPolicy, String> {
        match text.split_once(':') {
            None if text == "no" => Ok(RestartPolicy::No),
            None if text == "always" => Ok(RestartPolicy::Always),
            None if text == "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            None if text == "on-failure" => Ok(RestartPolicy::OnFailure { max: None }),
            Some(("on-failure", n)) => n
                .parse()
                .map(|max| RestartPolicy::OnFailure { max: Some(max) })
                .map_err(|_| format!("invalid restart count {n:?} in {text:?}")),
            _ => Err(format!(
                "invalid restart policy {text:?}: use no, on-failure[:N], always or unless-stopped"
            )),
        }
    }

    /// Docker's name for it.
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// Whether a container in `state` is started again after a reboot (`start --all`, or a
    /// daemon starting up): `always` does, `unless-stopped` unless a user stopped it, and only
    /// containers that are not running already.
    pub fn revives_after_boot(&self, state: &State) -> bool {
        !state.status.is_live()
            && match self {
                RestartPolicy::Always => true,
                RestartPolicy::UnlessStopped => !state.stopped_by_user,
                RestartPolicy::No | RestartPolicy::OnFailure { .. } => false,
            }
    }

    /// Whether a container that ended with `exit_code` after `restarts` restarts comes back.
    /// A user's `stop` or `kill` never restarts it.
    pub fn restarts(&self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure { max } => {
                exit_code != 0 && max.is_none_or(|max| restarts < max)
            }
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

/// Log rotation limits (Docker's json-file `max-size` and `max-file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLimits {
    /// Bytes per log file before it is rotated.
    pub max_size: u64,
    /// Files kept, the current one included.
    pub max_files: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_size: 10 << 20,
            max_files: 3,
        }
    }
}

impl LogLimits {
    /// From Docker's json-file log options (`max-size=10m`, `max-file=3`; `--log-opt` and
    /// `HostConfig.LogConfig.Config`), over the defaults.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<LogLimits, String> {
        let mut limits = LogLimits::default();
        for (key, value) in options {
            match key {
                "max-size" => limits.max_size = parse_size(value)?,
                "max-file" => {
                    limits.max_files =
                        value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("invalid max-file {value:?}: a number of files")
                        })?
                }
                _ => {
                    return Err(format!(
                        "unknown log option {key:?} (json-file takes max-size and max-file)"
                    ))
                }
            }
        }
        Ok(limits)
    }
}

/// A size as Docker writes them: a number with an optional unit b, k, m, g (binary units):
/// `64m`, `10MB`, `512k`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let trimmed = lower
        .strip_suffix('b')
        .filter(|s| !s.is_empty())
        .unwrap_or(&lower);
    let (number, unit) = match trimmed.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => trimmed.split_at(i),
        None => (trimmed, ""),
    };
    let shift = match unit {
        "" => 0,
        "k" | "ki" => 10,
        "m" | "mi" => 20,
        "g" | "gi" => 30,
        _ => {
            return Err(format!(
                "invalid size {text:?}: use a number with b, k, m or g, e.g. 64m"
            ))
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: use a number with b, k, m or g, e.g. 64m"))?;
    number
        .checked_mul(1 << shift)
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("invalid size {text:?}: it must be above zero and fit in 64 bits"))
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started.
    #[default]
    Created,
    /// Its monitor is running the guest.
    Running,
    /// Its monitor is waiting to run the guest again (restart policy back-off).
    Restarting,
    /// Ended.
    Exited,
}

impl Status {
    /// Docker's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }

    /// Whether a monitor should be alive.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Restarting)
    }
}

/// What a container is doing or how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Where it is in its life.
    pub status: Status,
    /// The monitor's PID while live.
    #[serde(default)]
    pub pid: Option<u32>,
    /// RFC 3339, of the last start.
    #[serde(default)]
    pub started_at: Option<String>,
    /// RFC 3339, of the last end.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The last run's exit code (Docker's conventions: 137 for limits, 134 traps, 143 stop).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The last run hit its memory limit.
    #[serde(default)]
    pub oom_killed: bool,
    /// How the last run ended, in words (`exited`, `trapped: ...`, `stopped`, `monitor died`).
    #[serde(default)]
    pub ended: Option<String>,
    /// Why it could not start, if it could not.
    #[serde(default)]
    pub error: Option<String>,
    /// Restarts by the restart policy since the last `start`.
    #[serde(default)]
    pub restart_count: u32,
    /// `stop` or `kill` ended it: no restart.
    #[serde(default)]
    pub stopped_by_user: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_reboot_always_and_unless_stopped_come_back() {
        let exited = State {
            status: Status::Exited,
            ..State::default()
        };
        let stopped = State {
            stopped_by_user: true,
            ..exited.clone()
        };
        assert!(RestartPolicy::Always.revives_after_boot(&stopped));
        assert!(RestartPolicy::UnlessStopped.revives_after_boot(&exited));
        assert!(!RestartPolicy::UnlessStopped.revives_after_boot(&stopped));
        assert!(!RestartPolicy::OnFailure { max: None }.revives_after_boot(&exited));
        let running = State {
            status: Status::Running,
            ..State::default()
        };
        assert!(!RestartPolicy::Always.revives_after_boot(&running));
    }

    #[test]
    fn log_options_and_sizes_parse_like_docker_s() {
        let limits = LogLimits::from_options([("max-size", "1m"), ("max-file", "2")]).unwrap();
        assert_eq!((limits.max_size, limits.max_files), (1 << 20, 2));
        assert!(LogLimits::from_options([("compress", "true")]).is_err());
        assert!(LogLimits::from_options([("max-file", "0")]).is_err());
        assert_eq!(parse_size("64MB").unwrap(), 64 << 20);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert!(parse_size("0").is_err() && parse_size("lots").is_err());
    }

    #[test]
    fn restart_policies_parse_and_decide_like_docker() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max: Some(3) }
        );
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
        let on_failure = RestartPolicy::OnFailure { max: Some(2) };
        assert!(on_failure.restarts(1, 0, false));
        assert!(on_failure.restarts(1, 1, false));
        assert!(!on_failure.restarts(1, 2, false));
        assert!(!on_failure.restarts(0, 0, false));
        assert!(RestartPolicy::Always.restarts(0, 100, false));
        assert!(!RestartPolicy::Always.restarts(1, 0, true));
        assert!(!RestartPolicy::No.restarts(1, 0, false));
    }
}
