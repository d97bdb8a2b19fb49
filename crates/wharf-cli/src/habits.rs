//! Flags copied from Docker command lines that mean something else, or nothing, for a Wasm
//! guest: each is accepted with a one-line note or refused with a sentence, never silently.

use clap::Args;

/// Flags that shape a Linux process. A Wasm guest has no user, capabilities or devices: it
/// reaches only what wharf grants it.
#[derive(Debug, Args, Default)]
pub struct LinuxFlags {
    /// Ignored with a warning: a Wasm guest has no user identity.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    user: Option<String>,
    /// Ignored with a warning: a Wasm guest has no Linux capabilities.
    #[arg(long = "cap-add", value_name = "CAP")]
    cap_add: Vec<String>,
    /// Ignored with a warning: a Wasm guest has no Linux capabilities.
    #[arg(long = "cap-drop", value_name = "CAP")]
    cap_drop: Vec<String>,
    /// Ignored with a warning: the sandbox is wharf's, not seccomp's or AppArmor's.
    #[arg(long = "security-opt", value_name = "OPT")]
    security_opt: Vec<String>,
    /// Refused: wharf never gives a guest the host.
    #[arg(long = "privileged")]
    privileged: bool,
    /// Refused: a Wasm guest cannot use host devices.
    #[arg(long = "device", value_name = "DEVICE")]
    device: Vec<String>,
}

/// Checks `--platform`, notes `--runtime`, and warns about or refuses the Linux-only flags.
pub fn check(
    platform: Option<&str>,
    runtime: Option<&str>,
    linux: &LinuxFlags,
) -> Result<(), String> {
    if let Some(platform) = platform {
        wharf_core::check_platform(platform).map_err(|e| e.to_string())?;
    }
    if let Some(runtime) = runtime {
        if runtime.starts_with("io.containerd.") {
            eprintln!(
                "wharf: note: --runtime {runtime} is not needed: wharf runs WebAssembly itself"
            );
        } else {
            return Err(format!(
                "unknown runtime {runtime:?}: wharf runs WebAssembly itself (a Docker+Wasm io.containerd.*.v1 runtime is accepted and ignored)"
            ));
        }
    }
    if linux.privileged {
        return Err("--privileged is refused: a Wasm guest gets only what wharf grants it (use -v, -p, --network host)".into());
    }
    if !linux.device.is_empty() {
        return Err("--device is refused: a Wasm guest cannot use host devices".into());
    }
    let ignored = [
        (linux.user.is_some(), "--user", "it has no user identity"),
        (
            !linux.cap_add.is_empty(),
            "--cap-add",
            "it has no Linux capabilities",
        ),
        (
            !linux.cap_drop.is_empty(),
            "--cap-drop",
            "it has no Linux capabilities",
        ),
        (
            !linux.security_opt.is_empty(),
            "--security-opt",
            "its sandbox is wharf's, not seccomp's or AppArmor's",
        ),
    ];
    for (given, flag, why) in ignored {
        if given {
            eprintln!("wharf: warning: {flag} is ignored for a WebAssembly guest: {why}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_and_runtimes() {
        let none = LinuxFlags::default();
        assert!(check(Some("wasi/wasm"), None, &none).is_ok());
        assert!(check(Some("wasip2/wasm"), None, &none).is_ok());
        let linux = check(Some("linux/amd64"), None, &none).unwrap_err();
        assert!(linux.contains("not WebAssembly"), "{linux}");
        assert!(check(None, Some("io.containerd.wasmtime.v1"), &none).is_ok());
        assert!(check(None, Some("runc"), &none).is_err());
        let privileged = LinuxFlags {
            privileged: true,
            ..Default::default()
        };
        assert!(check(None, None, &privileged).is_err());
        let user = LinuxFlags {
            user: Some("1000".into()),
            ..Default::default()
        };
        assert!(check(None, None, &user).is_ok());
    }
}
