//! A container as Docker describes it: inspect (`GET /containers/{id}/json`) and list items
//! (`GET /containers/json`).

use std::collections::HashMap;
use std::path::Path;

use bollard_stubs::models as api;
use wharf_containers::{Container, RestartPolicy, Status, Target};

/// Docker's zero time, for times that have not happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn state_status(status: Status) -> api::ContainerStateStatusEnum {
    match status {
        Status::Created => api::ContainerStateStatusEnum::CREATED,
        Status::Running => api::ContainerStateStatusEnum::RUNNING,
        Status::Restarting => api::ContainerStateStatusEnum::RESTARTING,
        Status::Exited => api::ContainerStateStatusEnum::EXITED,
    }
}

fn summary_state(status: Status) -> api::ContainerSummaryStateEnum {
    match status {
        Status::Created => api::ContainerSummaryStateEnum::CREATED,
        Status::Running => api::ContainerSummaryStateEnum::RUNNING,
        Status::Restarting => api::ContainerSummaryStateEnum::RESTARTING,
        Status::Exited => api::ContainerSummaryStateEnum::EXITED,
    }
}

fn restart_policy(policy: RestartPolicy) -> api::RestartPolicy {
    let (name, max) = match policy {
        RestartPolicy::No => (api::RestartPolicyNameEnum::NO, 0),
        RestartPolicy::OnFailure { max } => (
            api::RestartPolicyNameEnum::ON_FAILURE,
            i64::from(max.unwrap_or(0)),
        ),
        RestartPolicy::Always => (api::RestartPolicyNameEnum::ALWAYS, 0),
        RestartPolicy::UnlessStopped => (api::RestartPolicyNameEnum::UNLESS_STOPPED, 0),
    };
    api::RestartPolicy {
        name: Some(name),
        maximum_retry_count: Some(max),
    }
}

/// Docker's `PortBindings` / `NetworkSettings.Ports`: `{"80/tcp": [{"HostIp", "HostPort"}]}`.
fn port_map(c: &Container) -> api::PortMap {
    let mut map: api::PortMap = HashMap::new();
    for p in &c.config.ports {
        map.entry(format!("{}/tcp", p.guest_port))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(api::PortBinding {
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    map
}

fn labels(c: &Container) -> HashMap<String, String> {
    c.config.labels.clone().into_iter().collect()
}

/// The command a container runs, as Docker shows it: entrypoint and arguments.
fn command_of(c: &Container) -> String {
    c.config
        .entrypoint
        .iter()
        .chain(&c.config.args)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /containers/{id}/json` for `c`, whose log is at `log_path`.
pub fn container_inspect(c: &Container, log_path: &Path) -> api::ContainerInspectResponse {
    let s = &c.state;
    let (image, image_id) = match &c.config.target {
        Target::Image { reference, digest } => (reference.clone(), digest.clone()),
        Target::File { path } => (path.clone(), String::new()),
    };
    let log_options = HashMap::from([
        ("max-size".to_string(), c.config.log.max_size.to_string()),
        ("max-file".to_string(), c.config.log.max_files.to_string()),
    ]);
    api::ContainerInspectResponse {
        id: Some(c.config.id.clone()),
        name: Some(format!("/{}", c.config.name)),
        created: Some(c.config.created.clone()),
        image: Some(image_id),
        path: Some(c.config.entrypoint.clone().unwrap_or_default()),
        args: Some(c.config.args.clone()),
        state: Some(api::ContainerState {
            status: Some(state_status(s.status)),
            running: Some(s.status == Status::Running),
            paused: Some(false),
            restarting: Some(s.status == Status::Restarting),
            oom_killed: Some(s.oom_killed),
            dead: Some(false),
            pid: Some(i64::from(s.pid.unwrap_or(0))),
            exit_code: Some(i64::from(s.exit_code.unwrap_or(0))),
            error: Some(s.error.clone().unwrap_or_default()),
            started_at: Some(s.started_at.clone().unwrap_or_else(|| ZERO_TIME.into())),
            finished_at: Some(s.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into())),
            health: None,
        }),
        restart_count: Some(i64::from(s.restart_count)),
        log_path: Some(log_path.to_string_lossy().into_owned()),
        driver: Some("wharf".into()),
        platform: Some("wasi".into()),
        network_settings: Some(api::NetworkSettings {
            ports: Some(port_map(c)),
            ..Default::default()
        }),
        host_config: Some(api::HostConfig {
            restart_policy: Some(restart_policy(c.config.restart)),
            auto_remove: Some(c.config.auto_remove),
            port_bindings: Some(port_map(c)),
            network_mode: Some(c.config.network.clone()),
            memory: Some(c.config.memory.unwrap_or(0) as i64),
            nano_cpus: Some(c.config.nano_cpus.unwrap_or(0) as i64),
            readonly_rootfs: Some(c.config.read_only),
            binds: Some(
                c.config
                    .mounts
                    .iter()
                    .map(|m| {
                        let ro = if m.read_only { ":ro" } else { "" };
                        format!("{}:{}{ro}", m.host, m.guest)
                    })
                    .collect(),
            ),
            log_config: Some(api::HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(log_options),
            }),
            ..Default::default()
        }),
        config: Some(api::ContainerConfig {
            // Clients pick raw or multiplexed log streams by Tty (docker-py reads it).
            tty: Some(c.config.tty),
            open_stdin: Some(false),
            stdin_once: Some(false),
            attach_stdin: Some(false),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            hostname: Some(wharf_containers::short_id(&c.config.id).to_string()),
            image: Some(image),
            cmd: Some(c.config.args.clone()),
            entrypoint: c.config.entrypoint.clone().map(|e| vec![e]),
            env: Some(
                c.config
                    .env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            working_dir: Some(c.config.workdir.clone().unwrap_or_default()),
            labels: Some(labels(c)),
            stop_timeout: c.config.stop_timeout.map(|s| s as i64),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An item of `GET /containers/json` for `c`.
pub fn container_summary(c: &Container) -> api::ContainerSummary {
    let created = humantime::parse_rfc3339_weak(&c.config.created)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let (image, image_id) = match &c.config.target {
        Target::Image { reference, digest } => (reference.clone(), digest.clone()),
        Target::File { path } => (path.clone(), String::new()),
    };
    api::ContainerSummary {
        id: Some(c.config.id.clone()),
        names: Some(vec![format!("/{}", c.config.name)]),
        image: Some(image),
        image_id: Some(image_id),
        command: Some(command_of(c)),
        created: Some(created),
        ports: Some(
            c.config
                .ports
                .iter()
                .map(|p| api::Port {
                    ip: Some(p.host_ip.to_string()),
                    private_port: p.guest_port,
                    public_port: Some(p.host_port),
                    typ: Some(api::PortTypeEnum::TCP),
                })
                .collect(),
        ),
        labels: Some(labels(c)),
        state: Some(summary_state(c.state.status)),
        status: Some(status_text(c)),
        host_config: Some(api::ContainerSummaryHostConfig {
            network_mode: Some(c.config.network.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// "3 minutes ago" (Docker's wording) for an RFC 3339 time; the text itself if it is not one.
pub fn time_ago(time: &str) -> String {
    let Ok(then) = humantime::parse_rfc3339_weak(time) else {
        return time.to_string();
    };
    let elapsed = then.elapsed().unwrap_or_default();
    format!("{} ago", human_duration(elapsed))
}

/// Docker's words for a duration (go-units' `HumanDuration`): "Less than a second",
/// "About a minute", "3 hours", "2 weeks".
pub fn human_duration(d: std::time::Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// Docker's `Status` text of a container: "Up 3 seconds", "Exited (0) 2 minutes ago",
/// "Restarting (1) 1 second ago", "Created".
pub fn status_text(c: &Container) -> String {
    let ago = |t: &Option<String>| t.as_deref().map(time_ago).unwrap_or_default();
    match c.state.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", ago(&c.state.started_at).trim_end_matches(" ago")),
        Status::Restarting => format!(
            "Restarting ({}) {}",
            c.state.exit_code.unwrap_or(0),
            ago(&c.state.finished_at)
        ),
        Status::Exited => format!(
            "Exited ({}) {}",
            c.state.exit_code.unwrap_or(0),
            ago(&c.state.finished_at)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_docker_s() {
        let words = |secs| human_duration(std::time::Duration::from_secs(secs));
        assert_eq!(words(0), "Less than a second");
        assert_eq!(words(1), "1 second");
        assert_eq!(words(59), "59 seconds");
        assert_eq!(words(60), "About a minute");
        assert_eq!(words(119), "About a minute");
        assert_eq!(words(120), "2 minutes");
        assert_eq!(words(3599), "59 minutes");
        assert_eq!(words(3600), "About an hour");
        assert_eq!(words(3 * 3600), "3 hours");
        assert_eq!(words(3 * 86400), "3 days");
        assert_eq!(words(20 * 86400), "2 weeks");
        assert_eq!(words(90 * 86400), "3 months");
        assert_eq!(words(800 * 86400), "2 years");
    }
    use wharf_containers::{ContainerConfig, PortSpec, State};

    fn container(status: Status) -> Container {
        let target = Target::Image {
            reference: "app:1".into(),
            digest: format!("sha256:{}", "b".repeat(64)),
        };
        Container {
            config: ContainerConfig {
                id: "a".repeat(64),
                args: vec!["serve".into()],
                env: vec![("A".into(), "1".into())],
                memory: Some(64 << 20),
                restart: RestartPolicy::OnFailure { max: Some(3) },
                ports: vec![PortSpec {
                    host_ip: [127, 0, 0, 1].into(),
                    host_port: 8080,
                    guest_port: 80,
                }],
                labels: [("tier".to_string(), "web".to_string())].into(),
                ..ContainerConfig::new("web", target)
            },
            state: State {
                status,
                exit_code: Some(3),
                finished_at: Some(wharf_containers::now_rfc3339()),
                ..State::default()
            },
        }
    }

    #[test]
    fn inspect_has_docker_s_field_names_and_values() {
        let value = serde_json::to_value(container_inspect(
            &container(Status::Exited),
            Path::new("/l"),
        ))
        .unwrap();
        assert_eq!(value["Name"], "/web");
        assert_eq!(value["State"]["Status"], "exited");
        assert_eq!(value["State"]["ExitCode"], 3);
        assert_eq!(value["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(value["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
        assert_eq!(
            value["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
            "8080"
        );
        assert_eq!(value["Config"]["Env"][0], "A=1");
        assert_eq!(value["Config"]["Labels"]["tier"], "web");
        assert_eq!(value["Image"], format!("sha256:{}", "b".repeat(64)));
    }

    #[test]
    fn list_items_carry_docker_s_status_text() {
        let item = serde_json::to_value(container_summary(&container(Status::Exited))).unwrap();
        assert_eq!(item["Names"][0], "/web");
        assert_eq!(item["State"], "exited");
        assert!(
            item["Status"].as_str().unwrap().starts_with("Exited (3) "),
            "{item}"
        );
        assert_eq!(item["Ports"][0]["PublicPort"], 8080);
        assert_eq!(status_text(&container(Status::Created)), "Created");
        assert!(status_text(&container(Status::Running)).starts_with("Up "));
    }
}
