//! Container names: Docker's `adjective_surname` when none is given.

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "calm", "clever", "eager", "fervent", "gentle", "happy", "keen",
    "lucid", "modest", "nimble", "patient", "quiet", "sharp", "steady", "swift", "tender", "vivid",
];

const SURNAMES: &[&str] = &[
    "babbage", "curie", "dijkstra", "euler", "feynman", "gauss", "hopper", "kepler", "knuth",
    "lamport", "liskov", "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson",
    "turing", "wirth", "wozniak",
];

/// A free name: a random pair, with a number added when every pair tried is taken.
pub(crate) fn generate(taken: impl Fn(&str) -> bool) -> String {
    let random = crate::new_id();
    let bytes = random.as_bytes();
    for attempt in 0..16usize {
        let a = ADJECTIVES[(bytes[attempt] as usize * 7 + attempt) % ADJECTIVES.len()];
        let s = SURNAMES[(bytes[attempt + 16] as usize * 13 + attempt) % SURNAMES.len()];
        let name = format!("{a}_{s}");
        if !taken(&name) {
            return name;
        }
    }
    (2..)
        .map(|n| format!("{}_{}{n}", ADJECTIVES[0], SURNAMES[0]))
        .find(|name| !taken(name))
        .expect("some number is free")
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub(crate) fn valid(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
