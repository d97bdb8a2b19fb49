//! The Kubernetes path: containerd's CRI plugin with the runtime handler `wharf`, driven by a
//! CRI client as kubelet drives it (no kubelet or CNI here, so the pod uses the node's
//! network). A pod of two Wasm containers runs in one shim process; their output lands in the
//! CRI log files, their exit codes and stats come back through CRI.

mod common;

use std::time::Duration;

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::Channel;

use common::cri_client::{self, container_config};
use common::{start_with, wait_for, Services, GUEST, SANDBOX_IMAGE, SPIN};

async fn client(services: &Services) -> RuntimeServiceClient<Channel> {
    cri_client::connect(services.socket()).await
}

/// Pushes an image and makes it known to CRI (containerd's `k8s.io` namespace).
fn cri_image(services: &Services, name: &str, wat: &str) -> String {
    let image = services.push_image(name, wat);
    let pulled = services.ctr_in("k8s.io", &["images", "pull", "--plain-http", &image]);
    assert!(pulled.status.success(), "{pulled:?}");
    image
}

fn pod_config(logs: &std::path::Path) -> PodSandboxConfig {
    cri_client::pod_config("wasm-pod", logs)
}

/// Server processes of wharf's shim started by this test's containerd.
fn shim_servers(services: &Services) -> usize {
    let socket = services.socket().to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("containerd-shim-wharf-v1") && c.contains(&socket))
        .count()
}

#[test]
fn a_pod_of_two_wasm_containers_runs_through_cri() {
    // wharf's calls block (its calling contract): images first, then the async CRI client.
    let services = start_with(true);
    let guest = cri_image(&services, "guest", GUEST);
    let spin = cri_image(&services, "spin", SPIN);
    cri_image(&services, SANDBOX_IMAGE, SPIN);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(pod_flow(&services, &guest, &spin));
}

async fn pod_flow(services: &Services, guest: &str, spin: &str) {
    let logs = services.tmp.path().join("pod-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut cri = client(services).await;

    let pod = cri
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(pod_config(&logs)),
            runtime_handler: "wharf".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", services.log()))
        .into_inner()
        .pod_sandbox_id;
    let create = |name: &str, image: &str, args: &[&str]| CreateContainerRequest {
        pod_sandbox_id: pod.clone(),
        config: Some(container_config(name, image, args)),
        sandbox_config: Some(pod_config(&logs)),
    };
    let once = cri
        .create_container(create("once", guest, &["3"]))
        .await
        .unwrap()
        .into_inner()
        .container_id;
    let spinner = cri
        .create_container(create("spinner", spin, &[]))
        .await
        .unwrap()
        .into_inner()
        .container_id;
    for id in [&once, &spinner] {
        cri.start_container(StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("StartContainer: {e}\n{}", services.log()));
    }

    // One shim for the pod, the sandbox's pid a live process of it: a second container's
    // `start` finds the pod's shim serving and spawns no server. (A `start` process may
    // still be exiting after containerd has its answer: wait that moment out.)
    wait_for("one shim process for the pod", || {
        shim_servers(services) == 1
    });

    // The container that ends: its exit code and reason, its output in the CRI log file.
    let status = |cri: &mut RuntimeServiceClient<Channel>, id: String| {
        let mut cri = cri.clone();
        async move {
            cri.container_status(ContainerStatusRequest {
                container_id: id,
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap()
        }
    };
    let mut ended = None;
    for _ in 0..200 {
        let now = status(&mut cri, once.clone()).await;
        if now.state == ContainerState::ContainerExited as i32 {
            ended = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = ended.expect("the container never exited");
    assert_eq!((ended.exit_code, ended.reason.as_str()), (3, "Error"));
    let log_path = logs.join("once.log");
    wait_for("the CRI log's lines", || {
        std::fs::read_to_string(&log_path).is_ok_and(|l| {
            l.contains("stdout F out from wasm") && l.contains("stderr F err from wasm")
        })
    });

    // The running one: real stats, exec refused, stopped with Docker's SIGTERM code.
    // Polled: the guest runs (and holds its memory) a moment after StartContainer answers.
    let mut sample = (0, 0);
    for _ in 0..200 {
        let stats = cri
            .container_stats(ContainerStatsRequest {
                container_id: spinner.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("ContainerStats: {e}"))
            .into_inner()
            .stats
            .unwrap();
        let memory = stats.memory.unwrap().working_set_bytes.unwrap().value;
        let cpu = stats.cpu.unwrap().usage_core_nano_seconds.unwrap().value;
        sample = (memory, cpu);
        if memory > 0 && cpu > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (memory, cpu) = sample;
    assert_eq!(memory, 65536, "the guest's one page of linear memory");
    assert!(cpu > 0, "the spinning guest used no CPU");
    let listed = cri
        .list_container_stats(ListContainerStatsRequest { filter: None })
        .await
        .unwrap()
        .into_inner()
        .stats;
    assert!(
        listed
            .iter()
            .any(|s| s.attributes.as_ref().is_some_and(|a| a.id == spinner)
                && s.memory
                    .as_ref()
                    .and_then(|m| m.working_set_bytes)
                    .is_some()),
        "{listed:?}"
    );
    let exec = cri
        .exec_sync(ExecSyncRequest {
            container_id: spinner.clone(),
            cmd: vec!["/app.wat".into()],
            timeout: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(exec.code(), tonic::Code::Unimplemented, "{exec}");
    assert!(exec.message().contains("not supported"), "{exec}");
    cri.stop_container(StopContainerRequest {
        container_id: spinner.clone(),
        timeout: 5,
    })
    .await
    .unwrap();
    let stopped = status(&mut cri, spinner.clone()).await;
    assert_eq!(stopped.state, ContainerState::ContainerExited as i32);
    assert_eq!(stopped.exit_code, 143);

    // Everything goes, and the shim with the last task.
    for id in [&once, &spinner] {
        cri.remove_container(RemoveContainerRequest {
            container_id: id.clone(),
        })
        .await
        .unwrap();
    }
    cri.stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap();
    cri.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap();
    wait_for("the shim's exit", || shim_servers(services) == 0);

    // The runtime's options (ConfigPath) named the root the shim compiled into.
    let cache = services.tmp.path().join(common::CRI_ROOT).join("cache");
    assert!(
        std::fs::read_dir(cache.join("aot")).is_ok_and(|mut d| d.next().is_some()),
        "nothing compiled into the root the runtime options name"
    );
}

/// Pushes the wasi:http test server and makes it known to CRI.
fn cri_http_image(services: &Services) -> String {
    let server = std::fs::read(wharf_test_guests::guest("http-server.wasm")).unwrap();
    let image = services.push_program("http", "server.wasm", &server);
    let pulled = services.ctr_in("k8s.io", &["images", "pull", "--plain-http", &image]);
    assert!(pulled.status.success(), "{pulled:?}");
    image
}

#[test]
fn a_pod_on_its_own_network_serves_only_there() {
    let services = start_with(true);
    let server = cri_http_image(&services);
    cri_image(&services, SANDBOX_IMAGE, SPIN);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let logs = services.tmp.path().join("net-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let mut cri = client(&services).await;
        // What kubelet sends for an ordinary pod: the pod's own network, made by CRI with CNI.
        let mut config = cri_client::pod_config("net-pod", &logs);
        config.linux = None;
        let pod = cri
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: "wharf".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", services.log()))
            .into_inner()
            .pod_sandbox_id;
        let container = cri
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(container_config("web", &server, &[])),
                sandbox_config: Some(config),
            })
            .await
            .unwrap()
            .into_inner()
            .container_id;
        cri.start_container(StartContainerRequest {
            container_id: container.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("StartContainer: {e}\n{}", services.log()));
        let ip = cri
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: pod.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .unwrap_or_default();
        let network = services.pod_network.clone().unwrap();
        assert!(
            ip.starts_with(&format!("{}.", network.prefix)),
            "the pod's address {ip:?} is not on its network"
        );

        // Its pod address answers (as a Service would reach it); the node's loopback does not.
        let pod_url = format!("http://{ip}:8080/");
        wait_for("the server's answer on the pod's address", || {
            curl(&pod_url).is_some_and(|b| b == "hello from wasi:http\n")
        });
        assert_eq!(
            curl("http://127.0.0.1:8080/"),
            None,
            "served on the node's network"
        );

        cri.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .unwrap();
        let stopped = cri
            .container_status(ContainerStatusRequest {
                container_id: container,
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        assert_eq!(stopped.state, ContainerState::ContainerExited as i32);
        cri.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        })
        .await
        .unwrap();
        wait_for("the shim's exit", || shim_servers(&services) == 0);
    });
}

/// The body at `url`, or `None` when nothing answers.
fn curl(url: &str) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "2", url])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
