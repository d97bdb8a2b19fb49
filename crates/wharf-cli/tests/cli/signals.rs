//! Ctrl-C and SIGTERM stop the guest promptly with 130 and 143.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{guest, wharf};

/// Starts `guest_file`, waits for its first line (so wharf's handlers are in place), sends
/// `signal`, and returns the exit code and how long the stop took.
fn stop_with(signal: i32, guest_file: &str, first_line: &str) -> (i32, Duration, String) {
    let mut child = wharf()
        .arg("run")
        .arg(guest(guest_file))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), first_line);
    let sent = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc_kill(child.id() as i32, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    (
        out.status.code().unwrap_or(-1),
        took,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

#[test]
fn sigint_and_sigterm_stop_a_spinning_guest() {
    for file in ["spin.wasm", "spin.component.wasm"] {
        let (code, took, stderr) = stop_with(SIGINT, file, "spinning");
        assert_eq!(code, 130, "{file}: {stderr}");
        assert!(stderr.contains("stopped by SIGINT"), "{file}: {stderr}");
        assert!(took < Duration::from_secs(5), "{file}: took {took:?}");
        let (code, _, stderr) = stop_with(SIGTERM, file, "spinning");
        assert_eq!(code, 143, "{file}: {stderr}");
    }
}

#[test]
fn a_guest_blocked_in_a_host_call_is_stopped_too() {
    let (code, took, stderr) = stop_with(SIGTERM, "sleep.wasm", "sleeping");
    assert_eq!(code, 143, "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
