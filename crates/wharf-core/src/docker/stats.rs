//! A container's stats as Docker describes them (`GET /containers/{id}/stats`).

use std::collections::HashMap;

use super::api;
use crate::ContainerStats;

/// One `GET /containers/{id}/stats` sample from two of wharf's: CPU times of the container
/// and the host at both, from which clients compute Docker's CPU percentage, and the guest's
/// memory against its limit (`memory_stats.stats` adds the monitor's resident memory).
pub fn container_stats(s: &ContainerStats) -> api::ContainerStatsResponse {
    let cpu =
        |container: std::time::Duration, system: std::time::Duration| api::ContainerCpuStats {
            cpu_usage: Some(api::ContainerCpuUsage {
                total_usage: Some(container.as_nanos() as u64),
                ..Default::default()
            }),
            system_cpu_usage: Some(system.as_nanos() as u64),
            online_cpus: Some(s.online_cpus),
            throttling_data: None,
        };
    api::ContainerStatsResponse {
        name: Some(format!("/{}", s.name)),
        id: Some(s.id.clone()),
        read: Some(s.sampled_at.1.clone()),
        preread: Some(s.sampled_at.0.clone()),
        num_procs: Some(0),
        pids_stats: Some(api::ContainerPidsStats {
            current: Some(s.pids),
            limit: None,
        }),
        cpu_stats: Some(cpu(s.cpu_time, s.system_time.1)),
        precpu_stats: Some(cpu(s.cpu_time_before, s.system_time.0)),
        memory_stats: Some(api::ContainerMemoryStats {
            usage: Some(s.memory),
            limit: Some(s.memory_limit.unwrap_or_else(host_memory)),
            stats: Some(HashMap::from([("rss".to_string(), s.rss)])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The host's memory, Docker's limit for a container without one.
fn host_memory() -> u64 {
    crate::containers::proc_bytes("/proc/meminfo", "MemTotal:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clients_can_compute_docker_s_cpu_percentage() {
        let sample = ContainerStats {
            id: "a".repeat(64),
            name: "web".into(),
            cpu_percent: 50.0,
            cpu_time: Duration::from_millis(1500),
            memory: 2 << 20,
            memory_limit: Some(64 << 20),
            rss: 30 << 20,
            cpu_time_before: Duration::from_millis(1000),
            system_time: (Duration::from_secs(100), Duration::from_secs(102)),
            online_cpus: 2,
            sampled_at: ("t0".into(), "t1".into()),
            pids: 3,
        };
        let v = serde_json::to_value(container_stats(&sample)).unwrap();
        // docker CLI: (cpu delta / system delta) * online CPUs * 100.
        let cpu_delta = v["cpu_stats"]["cpu_usage"]["total_usage"].as_f64().unwrap()
            - v["precpu_stats"]["cpu_usage"]["total_usage"]
                .as_f64()
                .unwrap();
        let system_delta = v["cpu_stats"]["system_cpu_usage"].as_f64().unwrap()
            - v["precpu_stats"]["system_cpu_usage"].as_f64().unwrap();
        let percent =
            cpu_delta / system_delta * v["cpu_stats"]["online_cpus"].as_f64().unwrap() * 100.0;
        assert!((percent - 50.0).abs() < 0.01, "{percent}");
        assert_eq!(v["memory_stats"]["usage"], 2 << 20);
        assert_eq!(v["memory_stats"]["limit"], 64 << 20);
        assert_eq!(v["name"], "/web");
    }
}
