//! Memory and wall-time limits.

use std::time::{Duration, Instant};

use crate::support::run_guest;

#[test]
fn memory_within_the_limit_is_fine() {
    let ran = run_guest(&["--memory", "64m"], "memhog.wasm", &["16"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stdout, "memhog: got 16 MiB\n");
}

#[test]
fn a_guest_that_dies_of_the_memory_limit_is_137_and_says_so() {
    for file in ["memhog.wasm", "memhog.component.wasm"] {
        let ran = run_guest(&["--memory", "32m"], file, &["1000"]);
        assert_eq!(ran.code, 137, "{file}: {ran:?}");
        assert!(ran.stderr.contains("ran out of memory"), "{file}: {ran:?}");
        assert!(ran.stderr.contains("32 MiB"), "{file}: {ran:?}");
        if file.contains("component") {
            // The preview1 adapter needs memory of its own and may be the first to fail.
            continue;
        }
        assert!(
            ran.stderr.contains("malloc failed after"),
            "{file}: {ran:?}"
        );
        let got: u32 = ran
            .stderr
            .split("after ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (20..32).contains(&got),
            "{file}: allocated {got} MiB under a 32 MiB cap"
        );
    }
}

#[test]
fn memory_grow_fails_past_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let grow = tmp.path().join("grow.wat");
    // Exits with 10 + memory.grow's result: 11 when it succeeded (old size 1), 9 when refused.
    std::fs::write(
        &grow,
        r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (call $exit (i32.add (i32.const 10) (memory.grow (i32.const 1000))))))"#,
    )
    .unwrap();
    let grow = grow.to_str().unwrap();
    assert_eq!(crate::support::run(&["run", grow]).code, 11);
    let ran = crate::support::run(&["run", "--memory", "16m", grow]);
    assert_eq!(ran.code, 9, "{ran:?}");
    assert!(ran.stderr.contains("refused memory"), "{ran:?}");
}

#[test]
fn an_initial_memory_above_the_limit_is_137() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.wat");
    std::fs::write(
        &big,
        r#"(module (memory (export "memory") 1024) (func (export "_start")))"#,
    )
    .unwrap();
    let ran = crate::support::run(&["run", "--memory", "16m", big.to_str().unwrap()]);
    assert_eq!(ran.code, 137, "{ran:?}");
    assert!(ran.stderr.contains("ran out of memory"), "{ran:?}");
}

#[test]
fn a_timeout_stops_an_endless_loop_with_137() {
    for file in ["loop.wat", "spin.wasm", "spin.component.wasm", "sleep.wasm"] {
        let start = Instant::now();
        let ran = run_guest(&["--timeout", "300ms"], file, &[]);
        let took = start.elapsed();
        assert_eq!(ran.code, 137, "{file}: {ran:?}");
        assert!(
            ran.stderr
                .contains("ran longer than its --timeout of 300ms"),
            "{file}: {ran:?}"
        );
        assert!(took >= Duration::from_millis(300), "{file} stopped early");
        assert!(took < Duration::from_secs(20), "{file} took {took:?}");
    }
}

#[test]
fn a_guest_that_finishes_in_time_is_not_stopped() {
    let ran = run_guest(&["--timeout", "60s"], "hello.wasm", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
}

/// The user CPU time of `wharf ARGS...`, read from the kernel's accounting of that child alone.
// The child is reaped by wait4, which std's wait cannot report CPU time for.
#[allow(clippy::zombie_processes)]
fn cpu_time_of(args: &[&str]) -> (i32, Duration) {
    let child = crate::support::wharf()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let cpu = Duration::from_secs(usage.ru_utime.tv_sec as u64)
        + Duration::from_micros(usage.ru_utime.tv_usec as u64);
    (libc::WEXITSTATUS(status), cpu)
}

#[test]
fn cpus_holds_a_spinning_guest_to_its_share_of_a_core() {
    let spin = crate::support::guest("loop.wat");
    let spin = spin.to_str().unwrap();
    let (code, full) = cpu_time_of(&["run", "--timeout", "2s", spin]);
    assert_eq!(code, 137);
    let (code, quarter) = cpu_time_of(&["run", "--cpus", "0.25", "--timeout", "2s", spin]);
    assert_eq!(code, 137);
    // A quarter of a core for 2 s is 0.5 s of CPU; unlimited, the guest spins as much as the
    // machine lets it (all of its 2 s when the machine is quiet, less beside other tests).
    assert!(
        quarter < Duration::from_millis(800) && quarter > Duration::from_millis(50),
        "--cpus 0.25 for 2 s used {quarter:?} of CPU (unlimited: {full:?})"
    );
    assert!(
        full > quarter,
        "unlimited: {full:?}, --cpus 0.25: {quarter:?}"
    );
}
