//! Presentation helpers shared by the verbs: sizes the way Docker's CLI prints them, and the
//! y/N question before a prune.

/// Binary units with two decimals, as `docker stats` prints memory: `64.00MiB`, `512.00KiB`.
pub(crate) fn binary(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    UNITS.iter().find(|(_, size)| bytes >= *size).map_or_else(
        || format!("{bytes}B"),
        |(unit, size)| format!("{:.2}{unit}", bytes as f64 / *size as f64),
    )
}

/// Decimal units with three significant digits, as `docker images` and `prune` print sizes:
/// `12.3MB`, `2.46kB`, `512B`.
pub(crate) fn decimal(bytes: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0)];
    let (unit, size) = UNITS
        .iter()
        .find(|(_, size)| bytes as f64 >= *size)
        .copied()
        .unwrap_or(("B", 1.0));
    let value = bytes as f64 / size;
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    if unit == "B" {
        return format!("{bytes}B");
    }
    format!("{value:.decimals$}{unit}")
}

/// An exact size in the largest binary unit that divides it, for messages about limits the
/// user set: `64 MiB`, `1 GiB`, `1000 bytes`.
pub(crate) fn exact(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// Asks `warning` and whether to go on, on stderr; true only for a yes on stdin.
pub(crate) fn confirm(warning: &str) -> bool {
    eprint!("WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_as_docker_s_cli_prints_them() {
        assert_eq!(binary(64 << 20), "64.00MiB");
        assert_eq!(binary(1536), "1.50KiB");
        assert_eq!(binary(12), "12B");
        assert_eq!(decimal(12_345_678), "12.3MB");
        assert_eq!(decimal(2_460), "2.46kB");
        assert_eq!(decimal(512), "512B");
        assert_eq!(decimal(123_456_789_000), "123GB");
        assert_eq!(exact(64 << 20), "64 MiB");
        assert_eq!(exact(1000), "1000 bytes");
    }
}
