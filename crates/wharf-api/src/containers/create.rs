//! `POST /containers/create`: Docker's create body as a [`ContainerSpec`]. Unknown fields are
//! ignored (clients send fields of newer API versions); fields that cannot apply to a Wasm
//! guest are reported in `Warnings`, never silently dropped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bollard_stubs::models as api;
use wharf_core::{ContainerSpec, LogLimits, PortMapping, RestartPolicy, RunTarget, SandboxPolicy};

use crate::error::ApiError;

/// What the body asks for, and the warnings about what it asks that wharf cannot do.
pub(crate) struct Created {
    pub spec: ContainerSpec,
    /// `-v` and `--mount` as `SOURCE:/path[:ro]`, for the core to resolve
    /// ([`wharf_core::Wharf::bind_mount`]).
    pub binds: Vec<String>,
    /// `HostConfig.PublishAllPorts`.
    pub publish_all: bool,
    pub warnings: Vec<String>,
}

/// Translates a create body, for the container `name`.
pub(crate) fn spec(
    name: Option<String>,
    body: &api::ContainerCreateBody,
) -> Result<Created, ApiError> {
    let image = body
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("no image given: the create body needs Image"))?;
    let host = body.host_config.clone().unwrap_or_default();
    let mut warnings = Vec::new();

    // Docker's Entrypoint is a list: its first word is the program, the rest comes before Cmd.
    let mut args = Vec::new();
    let mut entrypoint = None;
    if let Some(words) = body.entrypoint.clone().filter(|e| !e.is_empty()) {
        entrypoint = Some(words[0].clone());
        args.extend(words[1..].iter().cloned());
    }
    args.extend(body.cmd.clone().unwrap_or_default());

    let env = body
        .env
        .iter()
        .flatten()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect();

    // Resolved by the core: a source that is a name is a volume, made on first use.
    let mut binds: Vec<String> = host.binds.clone().unwrap_or_default();
    for mount in host.mounts.iter().flatten() {
        binds.push(bind_of(mount)?);
    }
    // `-v /path` comes as `Volumes` alone: an anonymous volume, unless a bind covers the path.
    for path in body.volumes.iter().flatten().map(|(path, _)| path) {
        let covered = binds
            .iter()
            .any(|b| b.split(':').nth(1).unwrap_or(b.as_str()) == path);
        if !covered {
            binds.push(path.clone());
        }
    }

    let mut ports = Vec::new();
    for (key, bindings) in host.port_bindings.iter().flatten() {
        let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        if protocol != "tcp" {
            warnings.push(format!(
                "port {key} is not published: wharf publishes TCP ports only"
            ));
            continue;
        }
        let guest_port: u16 = port
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid port {key:?}")))?;
        for binding in bindings.iter().flatten() {
            ports.push(port_mapping(binding, guest_port)?);
        }
    }

    // A user network (compose's project network) is joined with the aliases its endpoint
    // config gives.
    let mode = host.network_mode.as_deref().unwrap_or_default();
    let aliases = body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref())
        .and_then(|e| e.get(mode))
        .and_then(|e| e.aliases.clone())
        .unwrap_or_default();
    let (network, user_network) = wharf_core::network_choice(mode, aliases);

    let restart = match host.restart_policy.as_ref().and_then(|r| r.name) {
        None => RestartPolicy::No,
        Some(name) => {
            let name = name.to_string();
            let text = match host
                .restart_policy
                .as_ref()
                .and_then(|r| r.maximum_retry_count)
            {
                Some(n) if n > 0 && name == "on-failure" => format!("{name}:{n}"),
                _ if name.is_empty() => "no".to_string(),
                _ => name,
            };
            RestartPolicy::parse(&text).map_err(ApiError::bad_request)?
        }
    };

    let log = match &host.log_config {
        Some(api::HostConfigLogConfig {
            typ: Some(kind), ..
        }) if !kind.is_empty() && kind != "json-file" && kind != "local" => {
            return Err(ApiError::bad_request(format!(
                "log driver {kind:?} is not supported: wharf keeps json-file logs"
            )))
        }
        Some(config) => {
            let options = config.config.clone().unwrap_or_default();
            LogLimits::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(ApiError::bad_request)?
        }
        None => LogLimits::default(),
    };

    for (unsupported, given) in [
        ("User", body.user.as_deref().is_some_and(|u| !u.is_empty())),
        ("Privileged", host.privileged == Some(true)),
        (
            "CapAdd",
            host.cap_add.as_ref().is_some_and(|c| !c.is_empty()),
        ),
    ] {
        if given {
            warnings.push(format!(
                "{unsupported} has no meaning for a Wasm guest and is ignored"
            ));
        }
    }

    let policy = SandboxPolicy {
        env,
        workdir: body.working_dir.clone().filter(|w| !w.is_empty()),
        memory_limit: host.memory.filter(|m| *m > 0).map(|m| m as u64),
        cpus: host.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
        read_only_rootfs: host.readonly_rootfs == Some(true),
        ports,
        network,
        ..Default::default()
    };
    let spec = ContainerSpec {
        name,
        target: RunTarget::Image(image),
        args,
        entrypoint,
        policy,
        restart,
        auto_remove: host.auto_remove == Some(true),
        log,
        labels: body
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        tty: body.tty == Some(true),
        open_stdin: body.open_stdin == Some(true),
        user_network,
        stop_timeout: body
            .stop_timeout
            .filter(|t| *t >= 0)
            .map(|t| std::time::Duration::from_secs(t as u64)),
    };
    Ok(Created {
        spec,
        binds,
        publish_all: host.publish_all_ports == Some(true),
        warnings,
    })
}

/// `--mount type=bind|volume,source=S,target=T[,readonly]` as `S:T[:ro]`.
fn bind_of(mount: &api::Mount) -> Result<String, ApiError> {
    let source = mount.source.clone().unwrap_or_default();
    match mount.typ {
        Some(api::MountTypeEnum::BIND) | None => {}
        Some(api::MountTypeEnum::VOLUME) if source.is_empty() => {}
        Some(api::MountTypeEnum::VOLUME) if wharf_core::names_a_volume(&source) => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mount type {other} with source {source:?} is not supported: wharf mounts host directories and named volumes"
            )))
        }
    }
    let target = mount.target.clone().unwrap_or_default();
    let mode = if mount.read_only == Some(true) {
        ":ro"
    } else {
        ""
    };
    Ok(match source.is_empty() {
        true => format!("{target}{mode}"),
        false => format!("{source}:{target}{mode}"),
    })
}

fn port_mapping(binding: &api::PortBinding, guest_port: u16) -> Result<PortMapping, ApiError> {
    let ip: IpAddr = match binding.host_ip.as_deref() {
        None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(ip) => ip
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid host IP {ip:?}")))?,
    };
    let port: u16 = match binding.host_port.as_deref() {
        None | Some("") => 0,
        Some(port) => port
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid host port {port:?}")))?,
    };
    Ok(PortMapping {
        host: SocketAddr::new(ip, port),
        guest_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> api::ContainerCreateBody {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_cli_s_run_body_becomes_a_spec() {
        let dir = tempfile::tempdir().unwrap();
        let created = spec(
            Some("web".into()),
            &body(serde_json::json!({
                "Image": "hello:1", "Cmd": ["a1", "a2"], "Env": ["A=B"], "Entrypoint": null,
                "Labels": {"x": "y"}, "ExposedPorts": {"80/tcp": {}},
                "HostConfig": {
                    "Binds": [format!("{}:/data:ro", dir.path().display())],
                    "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": [{}]},
                    "AutoRemove": true, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                    "NetworkMode": "default", "Memory": 67108864, "MemorySwappiness": -1,
                    "LogConfig": {"Type": "", "Config": {}}
                },
                "EndpointsConfig": {"x": {"GwPriority": 0}}
            })),
        )
        .unwrap();
        let spec = created.spec;
        assert_eq!(spec.target, RunTarget::Image("hello:1".into()));
        assert_eq!(spec.args, ["a1", "a2"]);
        assert_eq!(spec.policy.env, [("A".to_string(), "B".to_string())]);
        assert_eq!(
            created.binds,
            [format!("{}:/data:ro", dir.path().display())]
        );
        assert_eq!(spec.policy.ports[0].host.port(), 8080);
        assert_eq!(spec.policy.ports[0].guest_port, 80);
        assert_eq!(spec.policy.memory_limit, Some(64 << 20));
        assert_eq!(spec.restart, RestartPolicy::OnFailure { max: Some(3) });
        assert!(spec.auto_remove);
        assert_eq!(spec.labels["x"], "y");
        assert!(
            created.warnings[0].contains("53/udp"),
            "{:?}",
            created.warnings
        );
    }

    #[test]
    fn an_entrypoint_list_and_a_missing_image() {
        let created = spec(
            None,
            &body(serde_json::json!({"Image": "x", "Entrypoint": ["/app.wasm", "-v"], "Cmd": ["run"]})),
        )
        .unwrap();
        assert_eq!(created.spec.entrypoint.as_deref(), Some("/app.wasm"));
        assert_eq!(created.spec.args, ["-v", "run"]);
        let refused = spec(None, &body(serde_json::json!({"Cmd": ["x"]})));
        assert_eq!(refused.err().unwrap().status, 400);
    }
}
