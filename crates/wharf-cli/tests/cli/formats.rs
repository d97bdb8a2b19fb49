//! What users read: `--format` Go templates and tables on ps, images, inspect and stats;
//! image filters; `ps -n/-l`; `port C P`; Docker's relative times.

use crate::support::{guest, Ran, TestRoot as Env};

fn ok(ran: Ran) -> String {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.stdout
}

/// Builds image `name` of `file` with `label`, created at `epoch`.
fn build(env: &Env, name: &str, file: &str, label: &str, epoch: u64) {
    let ctx = env.root().join(format!("ctx-{}", name.replace(':', "-")));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest(file), ctx.join(file)).unwrap();
    let dockerfile =
        format!("FROM scratch\nCOPY {file} /\nLABEL {label}\nENTRYPOINT [\"/{file}\"]\n");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    let built = env
        .command(&["build", "-q", "-t", name, ctx.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .output()
        .unwrap();
    ok(built.into());
}

#[test]
fn ps_inspect_and_stats_take_go_templates() {
    let env = Env::new();
    let sleep = guest("sleep.wasm");
    let sleep = sleep.to_str().unwrap();
    env.run_d(&["--name", "first", "--label", "tier=web", sleep, "30"]);
    env.run_d(&["--name", "second", "-p", "127.0.0.1::80", sleep, "30"]);

    let names = ok(env.wharf(&["ps", "--format", "{{.Names}}"]));
    assert_eq!(names, "second\nfirst\n", "newest first");
    let table = ok(env.wharf(&["ps", "--format", "table {{.Names}}\\t{{.State}}"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAMES", "STATE"]
    );
    assert!(
        lines[1].starts_with("second    ") && lines[1].ends_with("running"),
        "{table}"
    );
    // The columns line up: every line's second cell starts where the header's does.
    let at = lines[0].find("STATE").unwrap();
    assert!(
        lines.iter().skip(1).all(|l| l[at..].starts_with("running")),
        "{table}"
    );
    let json = ok(env.wharf(&["ps", "--format", "{{json .}}", "-l"]));
    let row: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(row["Names"], "second");
    assert!(row["Ports"].as_str().unwrap().contains("->80/tcp"), "{row}");
    assert_eq!(ok(env.wharf(&["ps", "-n", "2", "-q"])).lines().count(), 2);
    let labels = ok(env.wharf(&["ps", "--format", "{{.Labels}}", "--filter", "label=tier"]));
    assert_eq!(labels, "tier=web\n");

    // The default table: a file's name survives a long path; Docker's words for times.
    let ps = ok(env.wharf(&["ps"]));
    let header = ps.lines().next().unwrap();
    for column in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(column), "{ps}");
    }
    assert!(
        ps.contains("sleep.wasm") && ps.contains("seconds ago")
            || ps.contains("Less than a second ago"),
        "{ps}"
    );
    assert!(!ps.contains("1 minutes"), "{ps}");

    let status = ok(env.wharf(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.Config.Labels}}",
        "first",
    ]));
    assert_eq!(status, "running map[tier:web]\n");
    let both = ok(env.wharf(&["inspect", "--format", "{{.Name}}", "first", "second"]));
    assert_eq!(both, "/first\n/second\n");
    let bad = env.wharf(&["inspect", "-f", "{{.State", "first"]);
    assert!(bad.code == 1 && bad.stderr.contains("template"), "{bad:?}");

    let port = ok(env.wharf(&["port", "second", "80"]));
    assert!(
        port.starts_with("127.0.0.1:") && port.trim().len() > 10,
        "{port}"
    );
    let none = env.wharf(&["port", "second", "81"]);
    assert!(
        none.code == 1 && none.stderr.contains("no public port '81/tcp'"),
        "{none:?}"
    );

    let stats = ok(env.wharf(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}:{{.PIDs}}",
        "first",
    ]));
    let pids: u32 = stats
        .trim()
        .strip_prefix("first:")
        .unwrap()
        .parse()
        .unwrap();
    assert!(pids > 0, "{stats}");
    ok(env.wharf(&["rm", "-f", "first", "second"]));
}

#[test]
fn images_are_listed_by_repository_filter_and_template() {
    let env = Env::new();
    build(&env, "app:1", "hello.wasm", "team=a", 1_600_000_000);
    build(&env, "app:2", "exit3.wasm", "team=b", 1_600_000_100);
    build(&env, "tool:1", "sleep.wasm", "team=a", 1_600_000_200);
    let listed = |args: &[&str]| {
        let mut all = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        all.extend(args);
        let mut lines: Vec<String> = ok(env.wharf(&all)).lines().map(String::from).collect();
        lines.sort();
        lines
    };
    assert_eq!(listed(&[]), ["app:1", "app:2", "tool:1"]);
    assert_eq!(listed(&["app"]), ["app:1", "app:2"]);
    assert_eq!(listed(&["app:2"]), ["app:2"]);
    assert_eq!(listed(&["--filter", "reference=t*"]), ["tool:1"]);
    assert_eq!(listed(&["--filter", "label=team=a"]), ["app:1", "tool:1"]);
    assert_eq!(listed(&["--filter", "since=app:1"]), ["app:2", "tool:1"]);
    assert_eq!(listed(&["--filter", "before=app:2"]), ["app:1"]);
    assert!(listed(&["--filter", "dangling=true"]).is_empty());
    assert_eq!(
        listed(&["--filter", "dangling=false", "app"]),
        ["app:1", "app:2"]
    );
    let bad = env.wharf(&["images", "--filter", "colour=red"]);
    assert!(
        bad.code != 0 && bad.stderr.contains("invalid filter 'colour'"),
        "{bad:?}"
    );

    let table = ok(env.wharf(&["images"]));
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{table}"
    );
    assert!(table.contains(" ago"), "{table}");
    let json = ok(env.wharf(&["images", "--format", "json", "tool"]));
    let row: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        (row["Repository"].as_str(), row["Tag"].as_str()),
        (Some("tool"), Some("1"))
    );
    let id = ok(env.wharf(&["image", "inspect", "-f", "{{.Id}}", "tool:1"]));
    assert!(id.starts_with("sha256:"), "{id}");
}

#[test]
fn volume_and_network_listings_take_formats() {
    let env = Env::new();
    ok(env.wharf(&["volume", "create", "--label", "tier=db", "data1"]));
    ok(env.wharf(&["network", "create", "--label", "tier=web", "front"]));
    let volumes = ok(env.wharf(&["volume", "ls", "--format", "{{.Name}} {{.Labels}}"]));
    assert_eq!(volumes, "data1 tier=db\n");
    let table = ok(env.wharf(&["volume", "ls"]));
    assert!(table.starts_with("DRIVER    VOLUME NAME\n"), "{table}");
    let networks = ok(env.wharf(&["network", "ls", "--format", "{{.Name}}:{{.Driver}}"]));
    assert!(networks.lines().any(|l| l == "front:bridge"), "{networks}");
    let json = ok(env.wharf(&["network", "ls", "--format", "json"]));
    let front = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|n| n["Name"] == "front")
        .unwrap();
    assert_eq!(front["Labels"], "tier=web");
    assert_eq!(front["ID"].as_str().unwrap().len(), 12);
}
