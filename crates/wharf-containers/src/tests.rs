use super::*;

fn containers() -> (tempfile::TempDir, Containers) {
    let tmp = tempfile::tempdir().unwrap();
    let containers = Containers::open(tmp.path().join("containers")).unwrap();
    (tmp, containers)
}

fn config(name: &str) -> ContainerConfig {
    let target = Target::File {
        path: "/app.wasm".into(),
    };
    ContainerConfig::new(name, target)
}

#[test]
fn names_are_unique_generated_and_checked() {
    let (_tmp, containers) = containers();
    let web = containers.create(config("web")).unwrap();
    let err = containers.create(config("web")).unwrap_err();
    assert!(matches!(err, Error::NameInUse { .. }), "{err}");
    assert!(matches!(
        containers.create(config("-bad")).unwrap_err(),
        Error::BadName(_)
    ));
    let generated = containers.create(config("")).unwrap();
    assert!(generated.name.contains('_'), "{}", generated.name);
    assert_eq!(containers.list().unwrap().len(), 2);
    assert_eq!(containers.resolve("web").unwrap(), web.id);
    assert_eq!(containers.resolve(&web.id[..10]).unwrap(), web.id);
}

#[test]
fn ambiguous_prefixes_are_an_error() {
    let (_tmp, containers) = containers();
    let mut a = config("a");
    a.id = format!("ab{}", &a.id[2..]);
    let mut b = config("b");
    b.id = format!("ab{}", &b.id[2..]);
    containers.create(a).unwrap();
    containers.create(b).unwrap();
    assert!(matches!(
        containers.resolve("ab").unwrap_err(),
        Error::Ambiguous { count: 2, .. }
    ));
    assert!(matches!(
        containers.resolve("zz").unwrap_err(),
        Error::NotFound(_)
    ));
}

#[test]
fn a_dead_monitor_is_noticed_and_reconciled_a_live_one_is_not() {
    let (_tmp, containers) = containers();
    let c = containers.create(config("svc")).unwrap();
    let running = State {
        status: Status::Running,
        pid: Some(1),
        ..Default::default()
    };
    // A live monitor holds the lock: nothing to fix.
    let lock = containers.try_monitor_lock(&c.id).unwrap().unwrap();
    containers.write_state(&c.id, &running).unwrap();
    assert!(containers.monitor_alive(&c.id));
    let (_, note) = containers.reconcile(&c.id).unwrap();
    assert_eq!(note, None);
    // The monitor dies (its lock goes with it).
    drop(lock);
    assert!(!containers.monitor_alive(&c.id));
    let (now, note) = containers.reconcile(&c.id).unwrap();
    let fixed = note.unwrap();
    assert_eq!((fixed.id.as_str(), fixed.exit_code), (c.id.as_str(), 137));
    assert!(fixed.to_string().contains("monitor is gone"));
    assert_eq!(now.state.status, Status::Exited);
    assert_eq!(now.state.exit_code, Some(137));
    // Once is enough.
    assert_eq!(containers.reconcile(&c.id).unwrap().1, None);
}

#[test]
fn many_processes_creating_and_removing_at_once_keep_state_whole() {
    let (_tmp, containers) = containers();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let containers = containers.clone();
            std::thread::spawn(move || {
                let c = containers.create(config(&format!("c{i}"))).unwrap();
                if i % 2 == 0 {
                    let lock = containers.try_monitor_lock(&c.id).unwrap().unwrap();
                    containers.remove(&c.id, &lock).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let left = containers.list().unwrap();
    assert_eq!(left.len(), 8);
    assert!(left
        .iter()
        .all(|c| c.config.name[1..].parse::<u32>().unwrap() % 2 == 1));
}

#[test]
fn a_monitor_lock_taken_after_removal_is_no_lock() {
    let (_tmp, containers) = containers();
    let c = containers.create(config("gone")).unwrap();
    // A monitor opens the lock file, then `rm` moves the directory away before it locks.
    let early = std::fs::File::open(containers.dir_of(&c.id).join("monitor.lock"));
    let lock = containers.try_monitor_lock(&c.id).unwrap().unwrap();
    containers.remove(&c.id, &lock).unwrap();
    drop(lock);
    drop(early);
    assert!(matches!(
        containers.try_monitor_lock(&c.id),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn a_container_appears_with_what_prepare_made_or_not_at_all() {
    let (_tmp, containers) = containers();
    let made = containers
        .create_with(config("full"), |dir| {
            std::fs::create_dir(dir.join("rootfs")).map_err(|e| Error::Io {
                what: "test".into(),
                source: e,
            })
        })
        .unwrap();
    assert!(containers.dir_of(&made.id).join("rootfs").is_dir());
    let failed = containers.create_with(config("half"), |_| Err(Error::NotFound("layer".into())));
    assert!(failed.is_err());
    let names: Vec<String> = containers
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.config.name)
        .collect();
    assert_eq!(names, vec!["full".to_string()]);
    let leftovers = std::fs::read_dir(containers.dir_of(""))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn damaged_state_is_reported_with_the_file() {
    let (_tmp, containers) = containers();
    let c = containers.create(config("x")).unwrap();
    std::fs::write(containers.dir_of(&c.id).join("state.json"), "{").unwrap();
    let err = containers.load(&c.id).unwrap_err().to_string();
    assert!(err.contains("state.json"), "{err}");
}

#[test]
fn only_the_process_holding_the_monitor_lock_is_its_monitor() {
    let (_tmp, containers) = containers();
    let c = containers.create(config("held")).unwrap();
    let me = std::process::id();
    assert!(!containers.monitor_holds(&c.id, me));
    let lock = containers.try_monitor_lock(&c.id).unwrap().unwrap();
    assert!(containers.monitor_holds(&c.id, me));
    // A PID left in the file by a dead monitor is nobody's to signal.
    assert!(!containers.monitor_holds(&c.id, me + 1));
    drop(lock);
    assert!(!containers.monitor_holds(&c.id, me));
}

#[test]
fn a_name_follows_renames_and_removals() {
    let (_tmp, containers) = containers();
    let web = containers.create(config("web")).unwrap();
    assert_eq!(containers.rename(&web.id, "api").unwrap(), "web");
    // The old name is free, the new one taken, and both resolve as they should.
    assert!(matches!(
        containers.resolve("web").unwrap_err(),
        Error::NotFound(_)
    ));
    assert_eq!(containers.resolve("api").unwrap(), web.id);
    let other = containers.create(config("web")).unwrap();
    assert!(matches!(
        containers.create(config("api")).unwrap_err(),
        Error::NameInUse { .. }
    ));
    assert!(matches!(
        containers.rename(&other.id, "api").unwrap_err(),
        Error::NameInUse { .. }
    ));
    let lock = containers.try_monitor_lock(&web.id).unwrap().unwrap();
    containers.remove(&web.id, &lock).unwrap();
    containers.create(config("api")).unwrap();
}

#[test]
fn stale_claims_left_by_a_kill_hold_no_name() {
    let (_tmp, containers) = containers();
    let web = containers.create(config("web")).unwrap();
    // kill -9 after a removal's directory went and before its claim did.
    fs::remove_dir_all(containers.dir_of(&web.id)).unwrap();
    let again = containers.create(config("web")).unwrap();
    assert_eq!(containers.resolve("web").unwrap(), again.id);
    // kill -9 inside a rename, after the new claim and before the config said the name.
    containers.claim("db", &again.id).unwrap();
    assert!(matches!(
        containers.resolve("db").unwrap_err(),
        Error::NotFound(_)
    ));
    containers.create(config("db")).unwrap();
}

#[test]
fn a_root_made_before_claims_keeps_its_names() {
    let (_tmp, containers) = containers();
    let web = containers.create(config("web")).unwrap();
    // As an older wharf left it: containers, no claims, no marker.
    for entry in fs::read_dir(&containers.dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("name=") || name == "names-indexed" {
            fs::remove_file(entry.path()).unwrap();
        }
    }
    assert_eq!(
        containers.resolve("web").unwrap(),
        web.id,
        "found by listing"
    );
    assert!(matches!(
        containers.create(config("web")).unwrap_err(),
        Error::NameInUse { .. }
    ));
    assert_eq!(containers.resolve("web").unwrap(), web.id);
}

#[test]
fn a_new_container_has_no_state_file_and_is_created() {
    let (_tmp, containers) = containers();
    let c = containers.create(config("fresh")).unwrap();
    let dir = containers.dir_of(&c.id);
    assert!(!dir.join("state.json").exists());
    assert_eq!(containers.load(&c.id).unwrap().state, State::default());
    // Gone whole (as `rm` moves it away): not found, not a created container.
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(containers.load(&c.id), Err(Error::NotFound(_))));
}

#[test]
fn generated_names_spread_over_every_pair_then_number_then_hex() {
    // 5,120 pairs: 3,000 draws find about 2,300 of them (random bits, not one hex digit each).
    let drawn: std::collections::HashSet<String> =
        (0..3000).map(|_| names::generate(|_| false)).collect();
    assert!(drawn.len() > 2000, "only {} distinct pairs", drawn.len());
    let numbered = names::generate(|n| !n.bytes().any(|b| b.is_ascii_digit()));
    assert!(
        numbered.bytes().last().unwrap().is_ascii_digit(),
        "{numbered}"
    );
    let hex = names::generate(|_| true);
    assert!(names::valid(&hex) && hex.len() > 12, "{hex}");
}

#[test]
fn generated_names_stay_unique() {
    let (_tmp, containers) = containers();
    let mut names = std::collections::HashSet::new();
    for _ in 0..450 {
        let created = containers.create(config("")).unwrap();
        assert!(names::valid(&created.name), "{}", created.name);
        assert!(names.insert(created.name.clone()), "{} twice", created.name);
    }
}
