//! `bench/shim.sh`'s CRI client: times pod start to first output through containerd's CRI
//! plugin for a runtime handler, and starts and removes idle pods for the memory figures.
//!
//! ```text
//! cri_bench SOCKET LOGS time HANDLER IMAGE RUNS    # prints: mean_ms min_ms
//! cri_bench SOCKET LOGS start HANDLER IMAGE N      # N pods of one container each, left running
//! cri_bench SOCKET LOGS clean                      # stops and removes every pod
//! ```

#[path = "../tests/common/cri_client.rs"]
mod cri_client;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::Channel;

type Cri = RuntimeServiceClient<Channel>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: cri_bench SOCKET LOGS time|start HANDLER IMAGE COUNT | clean";
    let (socket, logs, verb) = match args.get(1..4) {
        Some([s, l, v]) => (PathBuf::from(s), PathBuf::from(l), v.as_str()),
        _ => panic!("{usage}"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut cri = cri_client::connect(socket).await;
        match (verb, args.get(4..7)) {
            ("time", Some([handler, image, runs])) => {
                let mut times = Vec::new();
                for run in 0..runs.parse().expect("RUNS") {
                    let name = format!("t-{handler}-{run}");
                    let (pod, took) = start_pod(&mut cri, &logs, &name, handler, image, true).await;
                    times.push(took);
                    remove_pod(&mut cri, pod, true).await;
                }
                let mean = times.iter().sum::<Duration>() / times.len() as u32;
                let min = times.iter().min().unwrap();
                println!("{:.1} {:.1}", ms(mean), ms(*min));
            }
            ("start", Some([handler, image, count])) => {
                for i in 0..count.parse().expect("N") {
                    let name = format!("idle-{handler}-{i}");
                    start_pod(&mut cri, &logs, &name, handler, image, false).await;
                }
            }
            ("clean", _) => {
                let pods = cri
                    .list_pod_sandbox(ListPodSandboxRequest { filter: None })
                    .await
                    .unwrap()
                    .into_inner()
                    .items;
                for pod in pods {
                    remove_pod(&mut cri, pod.id, false).await;
                }
            }
            _ => panic!("{usage}"),
        }
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs pod `name` with one container of `image` and, with `output`, waits for its first line
/// of output in the CRI log; returns the pod and how long that took from RunPodSandbox.
async fn start_pod(
    cri: &mut Cri,
    logs: &Path,
    name: &str,
    handler: &str,
    image: &str,
    output: bool,
) -> (String, Duration) {
    let logs = logs.join(name);
    std::fs::create_dir_all(&logs).unwrap();
    let config = cri_client::pod_config(name, &logs);
    let began = Instant::now();
    let pod = cri
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: handler.into(),
        })
        .await
        .expect("RunPodSandbox")
        .into_inner()
        .pod_sandbox_id;
    let container = cri
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(cri_client::container_config("main", image, &[])),
            sandbox_config: Some(config),
        })
        .await
        .expect("CreateContainer")
        .into_inner()
        .container_id;
    cri.start_container(StartContainerRequest {
        container_id: container,
    })
    .await
    .expect("StartContainer");
    let log = logs.join("main.log");
    while output && !std::fs::read(&log).is_ok_and(|l| l.contains(&b'\n')) {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "no output in {log:?}"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    (pod, began.elapsed())
}

/// Removes pod `pod` as kubelet does: each container stopped and removed, then the sandbox.
/// With `ended`, its containers end by themselves: wait for that first (see the session note
/// on StopContainer racing a guest's own exit).
async fn remove_pod(cri: &mut Cri, pod: String, ended: bool) {
    let containers = cri
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: pod.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("ListContainers")
        .into_inner()
        .containers;
    for container in containers {
        let began = Instant::now();
        while ended && began.elapsed() < Duration::from_secs(5) {
            let status = cri
                .container_status(ContainerStatusRequest {
                    container_id: container.id.clone(),
                    verbose: false,
                })
                .await
                .expect("ContainerStatus")
                .into_inner()
                .status
                .map(|s| s.state);
            if status == Some(ContainerState::ContainerExited as i32) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cri.stop_container(StopContainerRequest {
            container_id: container.id.clone(),
            timeout: 0,
        })
        .await
        .expect("StopContainer");
        cri.remove_container(RemoveContainerRequest {
            container_id: container.id,
        })
        .await
        .expect("RemoveContainer");
    }
    cri.stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .expect("StopPodSandbox");
    cri.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: pod,
    })
    .await
    .expect("RemovePodSandbox");
}
