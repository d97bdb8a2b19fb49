//! Explaining, in the user's terms, why a guest's imports cannot be satisfied.

/// Which WASI a list of import module names asks for, as a phrase for messages.
pub(crate) fn wanted_wasi<'a>(modules: impl IntoIterator<Item = &'a str>) -> String {
    let mut wants = Vec::new();
    let mut push = |s: &str| {
        if !wants.iter().any(|w: &String| w == s) {
            wants.push(s.to_string());
        }
    };
    for module in modules {
        if module == "wasi_snapshot_preview1" {
            push("WASI preview1 (wasi_snapshot_preview1), which wharf provides");
        } else if module == "wasi_unstable" {
            push("WASI preview0 (wasi_unstable), which wharf does not provide: rebuild it with a current WASI SDK");
        } else if let Some(version) = module
            .strip_prefix("wasi:")
            .and_then(|m| m.split('@').nth(1))
        {
            if version.starts_with("0.2") {
                push(&format!("WASI preview2 ({version})"));
            } else {
                push(&format!("WASI {version}, which wharf does not provide"));
            }
        } else if module == "env" {
            push(
                "host functions from `env` (an Emscripten or bare-clang build, not a WASI program)",
            );
        } else if module.starts_with("wasmedge") || module.starts_with("wasi_ephemeral") {
            push(&format!(
                "the non-standard `{module}` extensions of another runtime"
            ));
        }
    }
    if wants.is_empty() {
        "no WASI interface wharf knows".to_string()
    } else {
        wants.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_wasi_versions() {
        assert!(wanted_wasi(["wasi_snapshot_preview1"]).contains("preview1"));
        assert!(wanted_wasi(["wasi_unstable"]).contains("preview0"));
        assert!(wanted_wasi(["wasi:cli/environment@0.2.3"]).contains("preview2 (0.2.3)"));
        assert!(wanted_wasi(["wasi:cli/environment@0.3.0"]).contains("does not provide"));
        assert!(wanted_wasi(["env"]).contains("Emscripten"));
        assert_eq!(wanted_wasi(["x"]), "no WASI interface wharf knows");
    }
}
