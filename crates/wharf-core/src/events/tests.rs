use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;

fn wharf() -> (tempfile::TempDir, Wharf) {
    let tmp = tempfile::tempdir().unwrap();
    let wharf = Wharf::open(crate::Root::open(tmp.path().join("root")).unwrap()).unwrap();
    (tmp, wharf)
}

fn past(wharf: &Wharf, filter: &[&str]) -> Vec<Event> {
    let pairs: Vec<String> = filter.iter().map(|s| s.to_string()).collect();
    let query = EventQuery {
        since: Some(SystemTime::UNIX_EPOCH),
        filter: EventFilter::from_pairs(&pairs).unwrap(),
        ..Default::default()
    };
    wharf
        .events(query)
        .map(|item| match item {
            EventItem::Event(e) => e,
            EventItem::Waiting => panic!("a query that does not follow waited"),
        })
        .collect()
}

fn container(action: &str, id: &str, name: &str) -> Event {
    Event::now(EventType::Container, action, id)
        .with("name", name)
        .with("image", "app")
        .with("tier", "web")
}

#[test]
fn events_come_back_in_order_and_filters_mean_docker_s() {
    let (_tmp, wharf) = wharf();
    wharf.record_event(&container("create", "aaaa1111", "web"));
    wharf.record_event(&container("start", "aaaa1111", "web"));
    wharf.record_event(&container("create", "bbbb2222", "db"));
    wharf.record_event(&Event::now(EventType::Image, "pull", "app:latest").with("name", "app"));

    let actions = |events: Vec<Event>| -> Vec<String> {
        events
            .into_iter()
            .map(|e| format!("{} {}", e.action, e.id))
            .collect()
    };
    assert_eq!(
        actions(past(&wharf, &[])),
        [
            "create aaaa1111",
            "start aaaa1111",
            "create bbbb2222",
            "pull app:latest"
        ]
    );
    // One key's values OR'd, keys AND'd; an ID prefix or a name names a container.
    assert_eq!(
        actions(past(
            &wharf,
            &["container=aaaa", "container=db", "event=create"]
        )),
        ["create aaaa1111", "create bbbb2222"]
    );
    assert_eq!(actions(past(&wharf, &["type=image"])), ["pull app:latest"]);
    // `app` and `app:latest` are one image, for container and image events alike.
    assert_eq!(past(&wharf, &["image=app:latest"]).len(), 4);
    assert_eq!(past(&wharf, &["label=tier=web", "event=start"]).len(), 1);
    assert_eq!(past(&wharf, &["label=tier=db"]).len(), 0);
    assert_eq!(past(&wharf, &["network=front"]).len(), 0);

    let bad = EventFilter::from_pairs(&["colour=red".into()]).unwrap_err();
    assert_eq!(bad.kind(), crate::ErrorKind::InvalidArgument);
    assert!(EventFilter::new(BTreeMap::from([("type".into(), vec!["pod".into()])])).is_err());

    let api = past(&wharf, &["event=start"])[0].to_api();
    let json = serde_json::to_value(&api).unwrap();
    assert_eq!(json["Type"], "container");
    assert_eq!(json["Action"], "start");
    assert_eq!(json["Actor"]["ID"], "aaaa1111");
    assert_eq!(json["Actor"]["Attributes"]["name"], "web");
    assert_eq!(json["scope"], "local");
    assert_eq!(
        json["time"].as_i64().unwrap(),
        json["timeNano"].as_i64().unwrap() / 1_000_000_000
    );
}

#[test]
fn since_and_until_bound_what_is_read() {
    let (_tmp, wharf) = wharf();
    let mut old = container("create", "aaaa", "old");
    old.time_nano -= 3_600 * 1_000_000_000;
    wharf.record_event(&old);
    wharf.record_event(&container("create", "bbbb", "new"));
    let ten_minutes_ago = SystemTime::now() - Duration::from_secs(600);
    let read = |since, until| -> Vec<String> {
        wharf
            .events(EventQuery {
                since,
                until,
                ..Default::default()
            })
            .filter_map(|i| match i {
                EventItem::Event(e) => Some(e.id),
                EventItem::Waiting => None,
            })
            .collect()
    };
    assert_eq!(read(Some(ten_minutes_ago), None), ["bbbb"]);
    assert_eq!(
        read(Some(SystemTime::UNIX_EPOCH), Some(ten_minutes_ago)),
        ["aaaa"]
    );
    // No `since`: only what happens from now on.
    assert!(read(None, None).is_empty());
}

#[test]
fn a_follower_sees_new_events_across_a_move_to_the_old_generation() {
    let (_tmp, wharf) = wharf();
    wharf.record_event(&container("create", "before", "x"));
    let mut follower = wharf.events(EventQuery {
        follow: true,
        until: Some(SystemTime::now() + Duration::from_secs(20)),
        filter: EventFilter::from_pairs(&["event=start".into()]).unwrap(),
        ..Default::default()
    });
    assert_eq!(follower.next(), Some(EventItem::Waiting));

    // Enough events to move the log twice, written by another thread meanwhile.
    let root = wharf.root.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        let wharf = Wharf::open(crate::Root::open(root).unwrap()).unwrap();
        let padding = "p".repeat(4000);
        for i in 0..600 {
            let action = if i % 100 == 0 { "start" } else { "create" };
            wharf.record_event(&container(action, &format!("c{i}"), &padding));
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 6 {
        match follower.next() {
            Some(EventItem::Event(e)) => seen.push(e.id),
            Some(EventItem::Waiting) => {}
            None => panic!("the follower ended early, having seen {seen:?}"),
        }
    }
    writer.join().unwrap();
    assert_eq!(seen, ["c0", "c100", "c200", "c300", "c400", "c500"]);
    assert!(wharf.root.path().join(OLD_LOG).exists());
    assert!(
        std::fs::metadata(wharf.root.path().join(LOG))
            .unwrap()
            .len()
            < 2 * ROTATE_AT
    );
}

#[test]
fn concurrent_writers_never_interleave_lines() {
    let (_tmp, wharf) = wharf();
    let root = wharf.root.path().to_path_buf();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let root = root.clone();
            std::thread::spawn(move || {
                let wharf = Wharf::open(crate::Root::open(root).unwrap()).unwrap();
                for i in 0..50 {
                    wharf.record_event(&container("create", &format!("w{w}-{i}"), "n"));
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let events = past(&wharf, &[]);
    assert_eq!(events.len(), 200);
    for w in 0..4 {
        let mine: Vec<String> = events
            .iter()
            .filter(|e| e.id.starts_with(&format!("w{w}-")))
            .map(|e| e.id.clone())
            .collect();
        let expected: Vec<String> = (0..50).map(|i| format!("w{w}-{i}")).collect();
        assert_eq!(mine, expected);
    }
}
