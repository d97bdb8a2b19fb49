//! `wharf version`, `info`, `system df`, `system prune`, the bounded compiled-code cache,
//! `completion`, `help VERB` and suggestions for mistyped verbs.

use crate::support::{guest, Ran, TestRoot as Env};

fn ok(ran: Ran) -> String {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.stdout
}

/// The compiled-code entries `system df --format json` reports: (total, active).
fn compiled(env: &Env) -> (u64, u64) {
    let rows = ok(env.wharf(&["system", "df", "--format", "json"]));
    let row = rows
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["Type"] == "Build Cache")
        .expect("a Build Cache row");
    let n = |k: &str| row[k].as_str().unwrap().parse::<u64>().unwrap();
    (n("TotalCount"), n("Active"))
}

#[test]
fn version_info_completion_and_help_need_no_setup() {
    let env = Env::new();
    let version = ok(env.wharf(&["version"]));
    assert!(version.contains("Wasmtime:          48."), "{version}");
    let short = ok(env.wharf(&["version", "--format", "{{.Version}}"]));
    assert_eq!(short.trim(), env!("CARGO_PKG_VERSION"));
    let hello = guest("hello.wasm");
    env.run_d(&[hello.to_str().unwrap()]);
    let count = ok(env.wharf(&["info", "--format", "{{.Containers}} {{.DockerRootDir}}"]));
    assert_eq!(count.trim(), format!("1 {}", env.root().display()));
    assert!(ok(env.wharf(&["info"])).contains("Docker Root Dir:"));

    let bash = ok(env.wharf(&["completion", "bash"]));
    assert!(
        bash.contains("_wharf()") && bash.contains("rename"),
        "{bash:.200}"
    );
    assert!(ok(env.wharf(&["completion", "fish"])).contains("complete -c wharf"));
    assert!(ok(env.wharf(&["help", "run"])).contains("Usage: wharf run"));
    let typo = env.wharf(&["imags"]);
    assert_eq!(typo.code, 125, "{typo:?}");
    assert!(typo.stderr.contains("'images'"), "{typo:?}");
}

#[test]
fn compiled_code_is_counted_bounded_and_pruned_with_images() {
    let env = Env::new();
    let component = guest("hello.component.wasm");
    ok(env.wharf(&[
        "build",
        "--artifact",
        "-q",
        "-t",
        "art:1",
        component.to_str().unwrap(),
    ]));
    ok(env.wharf(&["run", "art:1"]));
    ok(env.wharf(&["run", guest("hello.wasm").to_str().unwrap()]));
    // The image's code is in use (its layer is stored); the file's is not.
    assert_eq!(compiled(&env), (2, 1));
    let df = ok(env.wharf(&["system", "df"]));
    assert!(df.starts_with("TYPE "), "{df}");

    let pruned = ok(env.wharf(&["system", "prune", "-f"]));
    assert!(
        pruned.contains("Deleted Compiled Code: 1 entries"),
        "{pruned}"
    );
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert_eq!(compiled(&env), (1, 1));
    // Removing the image removes the code compiled from its layer.
    ok(env.wharf(&["rmi", "art:1"]));
    assert_eq!(compiled(&env), (0, 0));

    // A bound of one entry's size: each new compile evicts the least recently used.
    let bounded = |args: &[&str]| -> Ran {
        env.command(args)
            .env("WHARF_AOT_CACHE_SIZE", "1k")
            .output()
            .unwrap()
            .into()
    };
    ok(bounded(&["run", guest("hello.wasm").to_str().unwrap()]));
    assert_eq!(compiled(&env), (1, 0));
    let exit3 = bounded(&["run", guest("exit3.wasm").to_str().unwrap()]);
    assert_eq!(exit3.code, 3, "{exit3:?}");
    // Still one entry: exit3's compile evicted hello's.
    assert_eq!(compiled(&env), (1, 0));
    let rows = ok(env.wharf(&["system", "df", "--format", "{{.Size}}"]));
    assert!(!rows.is_empty());
}
