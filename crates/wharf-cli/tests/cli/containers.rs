//! Detached containers: every verb, restart policies, logs, and the faults (kill -9 of the
//! CLI or a monitor, many processes at once).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{guest, wharf_in, Ran, TestRoot as Env};

fn path(file: &str) -> String {
    guest(file).to_str().unwrap().to_string()
}

fn ok(ran: &Ran) {
    assert_eq!(ran.code, 0, "{ran:?}");
}

#[test]
fn a_detached_container_goes_through_every_verb() {
    let env = Env::new();
    let sleep = path("sleep.wasm");
    let id = env.run_d(&["--name", "web", &sleep]);

    let ps = env.wharf(&["ps"]);
    let line = ps
        .stdout
        .lines()
        .find(|l| l.ends_with("web"))
        .unwrap_or_else(|| panic!("{ps:?}"));
    assert!(
        line.starts_with(&id[..12]) && line.contains("Up "),
        "{ps:?}"
    );
    assert_eq!(env.wharf(&["ps", "-q"]).stdout.trim(), &id[..12]);
    let state = env.inspect("web");
    assert_eq!(state["State"]["Running"], Value::Bool(true));
    assert!(state["State"]["Pid"].as_u64().unwrap() > 0);
    // Names and ID prefixes work alike.
    assert_eq!(env.inspect(&id[..8])["Id"], state["Id"]);
    // The guest's output is in the log.
    env.until("web", "logged", |_| {
        env.wharf(&["logs", "web"]).stdout == "sleeping\n"
    });

    // stop interrupts the guest; the container records how it ended.
    let started = Instant::now();
    ok(&env.wharf(&["stop", "-t", "5", "web"]));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stop waited for the timeout"
    );
    let state = env.inspect("web");
    assert_eq!(state["State"]["Status"], "exited");
    assert_eq!(state["State"]["ExitCode"], 143);
    assert_eq!(env.wharf(&["wait", "web"]).stdout, "143\n");
    assert!(env.wharf(&["ps"]).stdout.lines().count() == 1);
    assert!(env.wharf(&["ps", "-a"]).stdout.contains("Exited (143)"));

    // start brings it back; kill ends it at once.
    ok(&env.wharf(&["start", "web"]));
    env.until("web", "ran", |v| v["State"]["Running"] == Value::Bool(true));
    ok(&env.wharf(&["kill", "web"]));
    let state = env.inspect("web");
    assert_eq!(state["State"]["ExitCode"], 137);
    assert_eq!(state["State"]["Running"], Value::Bool(false));
    // restart, then rm needs -f while it runs.
    ok(&env.wharf(&["restart", "-t", "1", "web"]));
    env.until("web", "restarted", |v| {
        v["State"]["Running"] == Value::Bool(true)
    });
    let refused = env.wharf(&["rm", "web"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("rm -f"), "{refused:?}");
    ok(&env.wharf(&["rm", "-f", "web"]));
    assert!(!env.wharf(&["ps", "-a"]).stdout.contains("web"));
    let gone = env.wharf(&["inspect", "web"]);
    assert_eq!(gone.code, 1, "{gone:?}");
}

#[test]
fn logs_keep_stdout_and_stderr_apart_and_in_order() {
    let env = Env::new();
    env.run_d(&["--name", "chatty", &path("chatty.wasm"), "200"]);
    assert_eq!(env.wharf(&["wait", "chatty"]).stdout, "0\n");
    let logs = env.wharf(&["logs", "chatty"]);
    let out: Vec<&str> = logs.stdout.lines().collect();
    let err: Vec<&str> = logs.stderr.lines().collect();
    let expected_out: Vec<String> = (0..200).step_by(2).map(|i| format!("out {i}")).collect();
    let expected_err: Vec<String> = (1..200).step_by(2).map(|i| format!("err {i}")).collect();
    assert_eq!(out, expected_out);
    assert_eq!(err, expected_err);
    let tail = env.wharf(&["logs", "--tail", "2", "chatty"]);
    assert_eq!(
        (tail.stdout.as_str(), tail.stderr.as_str()),
        ("out 198\n", "err 199\n")
    );
    let stamped = env.wharf(&["logs", "-t", "--tail", "1", "chatty"]);
    assert!(
        stamped.stderr.starts_with("20") && stamped.stderr.contains("Z err 199"),
        "{stamped:?}"
    );
    let since = env.wharf(&["logs", "--since", "1h", "chatty"]);
    assert_eq!(since.stdout.lines().count(), 100);

    // -f follows a running container and returns when it ends.
    env.run_d(&["--name", "later", &path("sleep.wasm"), "1"]);
    let followed = env.wharf(&["logs", "-f", "later"]);
    assert_eq!(followed.stdout, "sleeping\n", "{followed:?}");
    assert_eq!(env.inspect("later")["State"]["Status"], "exited");
}

#[test]
fn logs_are_bounded_by_rotation() {
    let env = Env::new();
    env.run_d(&[
        "--name",
        "flood",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=2",
        &path("chatty.wasm"),
        "20000",
    ]);
    assert_eq!(env.wharf(&["wait", "flood"]).stdout, "0\n");
    let dir = env
        .root()
        .join("containers")
        .join(env.inspect("flood")["Id"].as_str().unwrap());
    let total: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("container.log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(total <= 2 * 10 * 1024, "{total} bytes of logs kept");
    // The newest lines are the ones kept.
    let logs = env.wharf(&["logs", "--tail", "1", "flood"]);
    assert_eq!(logs.stderr, "err 19999\n", "{logs:?}");
}

#[test]
fn exit_codes_restart_policies_and_auto_remove() {
    let env = Env::new();
    let exit3 = path("exit3.wasm");
    env.run_d(&["--name", "three", &exit3]);
    assert_eq!(env.wharf(&["wait", "three"]).stdout, "3\n");

    env.run_d(&["--name", "retry", "--restart", "on-failure:2", &exit3]);
    let state = env.until("retry", "gave up", |v| {
        v["State"]["Status"] == "exited" && v["RestartCount"] == 2
    });
    assert_eq!(state["State"]["ExitCode"], 3);
    assert_eq!(state["HostConfig"]["RestartPolicy"]["Name"], "on-failure");

    // always: comes back after exits, but not after stop.
    env.run_d(&[
        "--name",
        "always",
        "--restart",
        "always",
        &path("sleep.wasm"),
        "0",
    ]);
    env.until("always", "restarted", |v| {
        v["RestartCount"].as_u64().unwrap() >= 2
    });
    ok(&env.wharf(&["stop", "always"]));
    let stopped = env.inspect("always");
    std::thread::sleep(Duration::from_millis(500));
    let later = env.inspect("always");
    assert_eq!(later["State"]["Status"], "exited", "{later:#}");
    assert_eq!(later["RestartCount"], stopped["RestartCount"]);
    // start --all brings back `always` containers (what a boot-time unit runs).
    ok(&env.wharf(&["start", "--all"]));
    env.until("always", "came back", |v| v["State"]["Status"] != "exited");
    ok(&env.wharf(&["rm", "-f", "always"]));

    // --rm: gone once ended, and wait still reports the code.
    let id = env.run_d(&["--rm", &exit3]);
    assert_eq!(env.wharf(&["wait", &id]).stdout, "3\n");
    assert!(!env.wharf(&["ps", "-a", "-q"]).stdout.contains(&id[..12]));

    // A guest that cannot start fails `run -d` itself, with the foreground exit code.
    let not_wasm = env.tmp.path().join("script.wasm");
    std::fs::write(&not_wasm, "#!/bin/sh\n").unwrap();
    let ran = env.wharf(&["run", "-d", not_wasm.to_str().unwrap()]);
    assert_eq!(ran.code, 126, "{ran:?}");
    let missing = env.wharf(&["run", "-d", "/no/such/file.wasm"]);
    assert_eq!(missing.code, 127, "{missing:?}");

    // A guest that runs out of its memory limit: 137 and OOMKilled, as Docker reports it.
    env.run_d(&["--name", "hog", "-m", "32m", &path("memhog.wasm")]);
    assert_eq!(env.wharf(&["wait", "hog"]).stdout, "137\n");
    let state = env.inspect("hog");
    assert_eq!(state["State"]["OOMKilled"], Value::Bool(true), "{state:#}");
    assert!(env.wharf(&["logs", "hog"]).stderr.contains("malloc failed"));

    // Prune removes what has ended.
    let pruned = env.wharf(&["container", "prune", "-f"]);
    ok(&pruned);
    assert!(env.wharf(&["ps", "-a", "-q"]).stdout.trim().is_empty());
}

#[test]
fn names_and_prefixes_are_checked() {
    let env = Env::new();
    let sleep = path("sleep.wasm");
    env.run_d(&["--name", "one", &sleep, "30"]);
    let taken = env.wharf(&["run", "-d", "--name", "one", &sleep]);
    assert_eq!(taken.code, 125, "{taken:?}");
    assert!(taken.stderr.contains("already in use"), "{taken:?}");
    let missing = env.wharf(&["stop", "nothing-here"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("no such container"), "{missing:?}");
    // Make two IDs share a prefix: every ID starts with a hex digit, so with 17 containers
    // two share their first digit.
    let ids: Vec<String> = (0..17)
        .map(|_| env.wharf(&["create", &sleep]).stdout.trim().to_string())
        .collect();
    let shared = ids
        .iter()
        .map(|id| &id[..1])
        .find(|p| ids.iter().filter(|id| id.starts_with(*p)).count() > 1)
        .unwrap();
    let ambiguous = env.wharf(&["inspect", shared]);
    assert_eq!(ambiguous.code, 1);
    assert!(ambiguous.stderr.contains("no such object"), "{ambiguous:?}");
    let rm = env.wharf(&["rm", shared]);
    assert!(
        rm.stderr.contains("names") && rm.stderr.contains("containers"),
        "{rm:?}"
    );
    ok(&env.wharf(&["rm", "-f", "one"]));
}

#[test]
fn kill_9_of_a_monitor_or_the_cli_never_leaves_a_ghost() {
    let env = Env::new();
    let sleep = path("sleep.wasm");
    env.run_d(&["--name", "victim", &sleep]);
    // Its line logged first (the guest runs a moment before its monitor writes it): then the
    // kill must not lose it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.wharf(&["logs", "victim"]).stdout != "sleeping\n" {
        assert!(std::time::Instant::now() < deadline, "victim never logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = env.inspect("victim")["State"]["Pid"].as_u64().unwrap();
    // SAFETY: killing a process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(100));
    let ps = env.wharf(&["ps", "-a"]);
    assert!(ps.stderr.contains("monitor is gone"), "{ps:?}");
    assert!(ps.stdout.contains("Exited (137)"), "{ps:?}");
    // Logs and exit code survive.
    assert_eq!(env.wharf(&["logs", "victim"]).stdout, "sleeping\n");
    assert_eq!(env.wharf(&["wait", "victim"]).stdout, "137\n");

    // The CLI killed at many moments during run -d.
    for delay_ms in [0, 5, 20, 50, 100] {
        let mut child = wharf_in(&env.root())
            .args(["run", "-d", &sleep, "30"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    std::thread::sleep(Duration::from_millis(300));
    let listed = env.wharf(&["ps", "-a", "--format", "json"]);
    ok(&listed);
    let monitors_alive = |id: &str| {
        let lock = env.root().join("containers").join(id).join("monitor.lock");
        let file = std::fs::File::options().write(true).open(lock);
        // A running monitor holds the lock.
        file.is_ok_and(|f| {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            rc != 0
        })
    };
    for line in listed.stdout.lines() {
        let c: Value = serde_json::from_str(line).unwrap();
        let full = env.inspect(c["ID"].as_str().unwrap());
        let id = full["Id"].as_str().unwrap();
        if c["State"] == "running" {
            assert!(monitors_alive(id), "{id} shown running with no monitor");
        }
    }
    ok(&env.wharf(&["rm", "-f", "victim"]));
    let all: Vec<String> = env
        .wharf(&["ps", "-a", "-q"])
        .stdout
        .lines()
        .map(String::from)
        .collect();
    let mut rm = vec!["rm", "-f"];
    rm.extend(all.iter().map(String::as_str));
    if !all.is_empty() {
        ok(&env.wharf(&rm));
    }
}

#[test]
fn twenty_parallel_runs_and_removals_keep_state_whole() {
    let env = Env::new();
    let sleep = path("sleep.wasm");
    let runs: Vec<_> = (0..20)
        .map(|i| {
            wharf_in(&env.root())
                .args(["run", "-d", "--name", &format!("p{i}"), &sleep, "30"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut run in runs {
        assert!(run.wait().unwrap().success());
    }
    assert_eq!(env.wharf(&["ps", "-q"]).stdout.lines().count(), 20);
    let removals: Vec<_> = (0..20)
        .map(|i| {
            wharf_in(&env.root())
                .args(["rm", "-f", &format!("p{i}")])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut rm in removals {
        assert!(rm.wait().unwrap().success());
    }
    assert!(env.wharf(&["ps", "-a", "-q"]).stdout.trim().is_empty());
    let left: Vec<_> = std::fs::read_dir(env.root().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn stats_report_engine_memory_and_cpu() {
    let env = Env::new();
    env.run_d(&["--name", "idle", "-m", "64m", &path("sleep.wasm"), "30"]);
    std::thread::sleep(Duration::from_millis(1200));
    let stats = env.wharf(&["stats", "--no-stream"]);
    ok(&stats);
    let line = stats
        .stdout
        .lines()
        .find(|l| l.contains("idle"))
        .unwrap_or_else(|| panic!("{stats:?}"));
    // The guest's linear memory (from the engine), against its limit.
    assert!(line.contains("/ 64.00MiB"), "{line}");
    assert!(!line.contains(" 0B /"), "{line}");
    ok(&env.wharf(&["rm", "-f", "idle"]));
}

/// The voluntary context switches of the main thread of process `pid` so far.
fn wakeups_of(pid: u64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap()
}

#[test]
fn an_idle_container_s_monitor_sleeps_until_asked_to_stop() {
    let env = Env::new();
    let id = env.run_d(&["--name", "idle", &path("sleep.wasm"), "60"]);
    let inspect: Value = serde_json::from_str(&env.wharf(&["inspect", &id]).stdout).unwrap();
    let pid = inspect[0]["State"]["Pid"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = wakeups_of(pid);
    std::thread::sleep(Duration::from_secs(3));
    let woke = wakeups_of(pid) - before;
    // It used to poll its stop flag every 50 ms: 60 wake-ups in 3 s, 1,000 idle containers
    // half a core. Woken by the signal instead, it may look once a second.
    assert!(
        woke <= 8,
        "the monitor woke {woke} times in 3 s while its guest slept"
    );
    ok(&env.wharf(&["stop", "-t", "5", "idle"]));
    let state = env.wharf(&["inspect", "-f", "{{.State.ExitCode}}", "idle"]);
    assert_eq!(state.stdout.trim(), "143", "{state:?}");
}

#[test]
fn start_attach_and_a_named_foreground_run_print_output_and_exit_with_the_code() {
    let env = Env::new();
    let chatty = path("chatty.wasm");
    // `run --name` without -d: a container, attached.
    let ran = env.wharf(&["run", "--name", "fg", &chatty, "4", "3"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert_eq!(ran.stdout, "out 0\nout 2\n");
    assert_eq!(ran.stderr, "err 1\nerr 3\n");
    assert!(env.wharf(&["ps", "-a"]).stdout.contains("fg"));
    // `create` then `start -a`.
    let id = env
        .wharf(&["create", "--name", "later", &chatty, "2"])
        .stdout
        .trim()
        .to_string();
    assert_eq!(env.inspect(&id)["State"]["Status"], "created");
    let started = env.wharf(&["start", "-a", "later"]);
    assert_eq!(started.code, 0, "{started:?}");
    assert_eq!(started.stdout, "out 0\n");
}

#[test]
fn ps_filters_mean_what_docker_s_mean() {
    let env = Env::new();
    let hello = path("hello.wasm");
    let sleep = path("sleep.wasm");
    let exit3 = path("exit3.wasm");
    env.run_d(&["--name", "web-1", "-l", "tier=web", &sleep, "30"]);
    env.run_d(&["--name", "web-2", "-l", "tier=web", "-l", "canary", &hello]);
    env.run_d(&["--name", "db", "-l", "tier=db", &exit3]);
    ok(&env.wharf(&["wait", "web-2", "db"]));
    let names = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["ps", "--format", "json"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let ran = env.wharf(&args);
        ok(&ran);
        let mut names: Vec<String> = ran
            .stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["Names"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    };
    // Running only by default; a status filter looks at stopped ones too.
    assert_eq!(names(&[]), ["web-1"]);
    assert_eq!(names(&["status=exited"]), ["db", "web-2"]);
    // Values of one key are OR'd, keys AND'd.
    assert_eq!(
        names(&["status=exited", "status=running"]),
        ["db", "web-1", "web-2"]
    );
    assert_eq!(names(&["status=exited", "label=tier=web"]), ["web-2"]);
    assert_eq!(names(&["status=exited", "label=canary"]), ["web-2"]);
    assert_eq!(
        names(&["exited=3"]),
        Vec::<String>::new(),
        "exited needs -a or status"
    );
    assert_eq!(names(&["status=exited", "exited=3"]), ["db"]);
    assert_eq!(names(&["status=running", "name=^web"]), ["web-1"]);
    assert_eq!(names(&["status=exited", "before=db"]), ["web-2"]);
    assert_eq!(names(&["status=exited", "since=web-1"]), ["db", "web-2"]);
    // Unknown keys and malformed values are errors, not empty lists.
    for bad in ["colour=red", "status=sleeping", "exited=zero"] {
        let ran = env.wharf(&["ps", "--filter", bad]);
        assert_eq!(ran.code, 1, "{bad}: {ran:?}");
        assert!(ran.stderr.contains("invalid filter"), "{bad}: {ran:?}");
    }
    ok(&env.wharf(&["rm", "-f", "web-1", "web-2", "db"]));
}

#[test]
fn auto_remove_and_a_restart_policy_conflict() {
    let env = Env::new();
    let ran = env.wharf(&[
        "run",
        "-d",
        "--rm",
        "--restart",
        "always",
        &path("hello.wasm"),
    ]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("conflicting options"), "{ran:?}");
    assert!(env.wharf(&["ps", "-a", "-q"]).stdout.trim().is_empty());
}

#[test]
fn events_tell_a_container_s_life_in_order_and_follow_what_happens() {
    let env = Env::new();
    let sleep = path("sleep.wasm");
    // A follower started first sees the start as it happens.
    let mut follower = env
        .command(&["events", "--filter", "event=start", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 1.0;
    std::thread::sleep(Duration::from_millis(300));
    let id = env.run_d(&["--name", "evented", "-l", "tier=web", &sleep]);
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(follower.stdout.take().unwrap()));
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    follower.kill().unwrap();
    let _ = follower.wait();
    assert_eq!(first["Action"], "start", "{first}");
    assert_eq!(first["Actor"]["ID"], id.as_str());
    assert_eq!(first["Actor"]["Attributes"]["name"], "evented");

    ok(&env.wharf(&["stop", "-t", "5", "evented"]));
    ok(&env.wharf(&["rm", "evented"]));
    // A time just past: the read ends at once, with what was logged.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let until = format!("{until:.3}");
    let since = format!("{since:.3}");
    let ran = env.wharf(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=evented",
        "--format",
        "json",
    ]);
    ok(&ran);
    let events: Vec<Value> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["Action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["create", "start", "kill", "die", "stop", "destroy"],
        "{ran:?}"
    );
    assert_eq!(events[2]["Actor"]["Attributes"]["signal"], "15");
    assert_eq!(events[3]["Actor"]["Attributes"]["exitCode"], "143");
    assert!(events
        .iter()
        .all(|e| e["Actor"]["Attributes"]["tier"] == "web"));

    // Docker's text line, and a filter wharf does not know.
    let text = env.wharf(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "-f",
        "event=destroy",
    ]);
    ok(&text);
    assert!(
        text.stdout.contains(&format!("container destroy {id} (")),
        "{text:?}"
    );
    let bad = env.wharf(&["events", "--until", &until, "-f", "colour=red"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("invalid filter 'colour'"), "{bad:?}");
}
