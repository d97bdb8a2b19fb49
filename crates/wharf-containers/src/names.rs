//! Container names: Docker's `adjective_surname` when none is given.

// 64 x 80 = 5,120 pairs: with 1,000 containers a random pair is free four times in five, so a
// name costs one check or two (with 400 pairs, all were taken and every `run` checked 17).
const ADJECTIVES: &[&str] = &[
    "agile", "amused", "ardent", "awake", "blithe", "bold", "brave", "bright", "brisk", "calm",
    "candid", "cheerful", "clever", "cosmic", "crisp", "curious", "daring", "deft", "devoted",
    "eager", "earnest", "elated", "epic", "fervent", "festive", "fluent", "focused", "frank",
    "gentle", "gifted", "glad", "graceful", "happy", "hardy", "honest", "hopeful", "humble",
    "jolly", "jovial", "keen", "kind", "lively", "loyal", "lucid", "merry", "mindful", "modest",
    "nimble", "noble", "patient", "placid", "plucky", "proud", "quiet", "radiant", "serene",
    "sharp", "sincere", "steady", "sunny", "swift", "tender", "vivid", "witty",
];

const SURNAMES: &[&str] = &[
    "agnesi", "aiken", "allen", "babbage", "backus", "bardeen", "bartik", "bohr", "boole", "brahe",
    "cerf", "church", "codd", "conway", "cori", "cray", "curie", "darwin", "dijkstra", "dirac",
    "einstein", "erdos", "euclid", "euler", "faraday", "fermi", "feynman", "franklin", "galileo",
    "gauss", "goldberg", "hamming", "hawking", "hoare", "hodgkin", "hopper", "huffman", "hypatia",
    "johnson", "kahan", "kepler", "kilby", "knuth", "lagrange", "lamarr", "lamport", "leibniz",
    "liskov", "lovelace", "maxwell", "mccarthy", "meitner", "mendel", "milner", "minsky", "morse",
    "napier", "naur", "newton", "noether", "ohm", "pascal", "perlman", "planck", "poincare",
    "raman", "riemann", "ritchie", "rivest", "sammet", "shamir", "shannon", "stibitz", "tarjan",
    "tesla", "thompson", "turing", "volta", "wirth", "wozniak",
];

/// A free name: a random pair; once 16 pairs are taken, a random pair with a random number
/// (as Docker adds a digit on retry); after that, a pair with random hex that nobody has.
/// Each check costs a read, so the tries are random and few rather than counted from 2.
pub(crate) fn generate(taken: impl Fn(&str) -> bool) -> String {
    let random = crate::new_id();
    // 16 random bits per try, from the ID's hex digits (one digit alone has only 16 values).
    let bits = |i: usize| usize::from_str_radix(&random[i * 4..i * 4 + 4], 16).unwrap_or(i);
    let pair = |i: usize| {
        let bits = bits(i);
        let a = ADJECTIVES[bits % ADJECTIVES.len()];
        let s = SURNAMES[bits / ADJECTIVES.len() % SURNAMES.len()];
        format!("{a}_{s}")
    };
    for attempt in 0..16usize {
        let name = pair(attempt);
        if !taken(&name) {
            return name;
        }
    }
    for attempt in 0..16usize {
        let number = bits(15 - attempt);
        let name = format!("{}{}", pair(attempt), 2 + number % 9998);
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
