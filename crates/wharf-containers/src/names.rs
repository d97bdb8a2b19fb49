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

/// A free name: a random pair; once 16 pairs are taken, a random pair with a random number
/// (as Docker adds a digit on retry); after that, a pair with random hex that nobody has.
/// Each check costs a read, so the tries are random and few rather than counted from 2.
pub(crate) fn generate(taken: impl Fn(&str) -> bool) -> String {
    let random = crate::new_id();
    let bytes = random.as_bytes();
    let pair = |i: usize| {
        let a = ADJECTIVES[(bytes[i % 32] as usize * 7 + i) % ADJECTIVES.len()];
        let s = SURNAMES[(bytes[(i + 16) % 32] as usize * 13 + i) % SURNAMES.len()];
        format!("{a}_{s}")
    };
    for attempt in 0..16usize {
        let name = pair(attempt);
        if !taken(&name) {
            return name;
        }
    }
    for attempt in 0..16usize {
        let number = u16::from_str_radix(&random[attempt * 4..attempt * 4 + 4], 16).unwrap_or(0);
        let name = format!("{}{}", pair(attempt), 2 + u32::from(number) % 9998);
        if !taken(&name) {
            return name;
        }
    }
    format!("{}_{}", pair(0), &random[..12])
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub(crate) fn valid(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
