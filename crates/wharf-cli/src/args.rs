//! Parsing Docker-style flag values: sizes, durations, `-e`, `--env-file` and `-v`.

use std::path::Path;
use std::time::Duration;

/// Parses a Docker memory size (`64m`): the core's rule, as clap's value parser.
pub fn parse_size(text: &str) -> Result<u64, String> {
    wharf_core::parse_size(text)
}

/// Parses a duration: `30s`, `500ms`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds > 0.0 && seconds.is_finite() {
            return Ok(Duration::from_secs_f64(seconds));
        }
    }
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "invalid duration {text:?}: use e.g. 30s, 500ms or 2m"
        )),
    }
}

/// Parses `--cpus`: a positive number of CPUs, e.g. 0.5.
pub fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(cpus) if cpus > 0.0 && cpus.is_finite() => Ok(cpus),
        _ => Err(format!(
            "invalid --cpus {text:?}: use a positive number such as 0.5 or 2"
        )),
    }
}

/// Resolves `-e KEY=VALUE` and `-e KEY` (taken from wharf's own environment, skipped when unset,
/// as Docker does).
pub fn env_entry(entry: &str) -> Result<Option<(String, String)>, String> {
    match entry.split_once('=') {
        Some(("", _)) => Err(format!(
            "invalid environment variable {entry:?}: the name is empty"
        )),
        Some((key, value)) => Ok(Some((key.to_string(), value.to_string()))),
        None if entry.is_empty() => {
            Err("invalid environment variable \"\": the name is empty".into())
        }
        None => Ok(std::env::var(entry)
            .ok()
            .map(|value| (entry.to_string(), value))),
    }
}

/// Reads an env file: one `KEY=VALUE` or `KEY` a line; blank lines and `#` comments skipped.
pub fn env_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read env file {}: {e}", path.display()))?;
    let mut vars = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry =
            env_entry(line).map_err(|e| format!("{}:{}: {e}", path.display(), number + 1))?;
        vars.extend(entry);
    }
    Ok(vars)
}

/// Parses `-p [[HOST_IP:]HOST_PORT:]GUEST_PORT[/tcp]`: the sandbox's rule, as clap's value
/// parser.
pub fn parse_port(text: &str) -> Result<wharf_core::PortMapping, String> {
    wharf_core::PortMapping::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("64MB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5x").is_err());
        assert!(parse_size("99999999999999g").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn env_entries() {
        assert_eq!(env_entry("A=b=c"), Ok(Some(("A".into(), "b=c".into()))));
        assert_eq!(env_entry("A="), Ok(Some(("A".into(), "".into()))));
        assert_eq!(env_entry("WHARF_SURELY_UNSET_VARIABLE"), Ok(None));
        assert!(env_entry("=x").is_err());
        let path = std::env::var("PATH").unwrap();
        assert_eq!(env_entry("PATH"), Ok(Some(("PATH".into(), path))));
    }

    #[test]
    fn env_files() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("env");
        std::fs::write(
            &file,
            "# comment\nA=1\n\nB=two words\nWHARF_SURELY_UNSET_VARIABLE\n",
        )
        .unwrap();
        assert_eq!(
            env_file(&file),
            Ok(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into())
            ])
        );
        std::fs::write(&file, "=bad\n").unwrap();
        assert!(env_file(&file).unwrap_err().contains(":1:"));
        assert!(env_file(&tmp.path().join("missing")).is_err());
    }

    #[test]
    fn mounts() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().to_str().unwrap();
        let mount = wharf_core::Mount::parse(&format!("{host}:/data/:ro")).unwrap();
        assert_eq!(mount.guest, "/data");
        assert!(mount.read_only);
        assert!(
            !wharf_core::Mount::parse(&format!("{host}:/data"))
                .unwrap()
                .read_only
        );
        assert!(wharf_core::Mount::parse(&format!("{host}:data")).is_err());
        assert!(wharf_core::Mount::parse(&format!("{host}:/data:xx")).is_err());
        assert!(wharf_core::Mount::parse(&format!("{host}/missing:/data")).is_err());
        // A single file is a mount too (wharf-core grants it through a directory).
        std::fs::write(tmp.path().join("f"), "").unwrap();
        assert!(wharf_core::Mount::parse(&format!("{host}/f:/etc/f.toml:ro")).is_ok());
    }

    #[test]
    fn ports_parse_like_docker() {
        let p = parse_port("8080:80").unwrap();
        assert_eq!(
            (p.host.to_string().as_str(), p.guest_port),
            ("0.0.0.0:8080", 80)
        );
        let p = parse_port("127.0.0.1:9000:8080/tcp").unwrap();
        assert_eq!(p.host.to_string(), "127.0.0.1:9000");
        let p = parse_port("[::1]:9000:80").unwrap();
        assert_eq!(p.host.to_string(), "[::1]:9000");
        let p = parse_port("80").unwrap();
        assert_eq!((p.host.port(), p.guest_port), (0, 80));
        assert!(parse_port("x:80").is_err());
        assert!(parse_port("8080:80/udp").is_err());
    }
}
