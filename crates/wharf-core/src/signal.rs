//! Signals by name and number, as `docker kill -s`, `POST /containers/{id}/kill?signal=` and
//! containerd's `Kill` give them.

use crate::Error;

/// The signals wharf knows by name: what Linux numbers them.
const NAMED: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("TERM", libc::SIGTERM),
    ("STOP", libc::SIGSTOP),
    ("CONT", libc::SIGCONT),
    ("WINCH", libc::SIGWINCH),
];

/// A signal to send a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    /// SIGKILL, `docker kill`'s default.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// SIGTERM, what `stop` sends first.
    pub const TERM: Signal = Signal(libc::SIGTERM);

    /// `KILL`, `SIGKILL`, `kill` or `9`.
    pub fn parse(text: &str) -> Result<Signal, Error> {
        let upper = text.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some((_, number)) = NAMED.iter().find(|(n, _)| *n == name) {
            return Ok(Signal(*number));
        }
        match text.parse::<i32>() {
            Ok(n) if (1..=64).contains(&n) => Ok(Signal(n)),
            _ => Err(Error::InvalidArgument(format!(
                "invalid signal {text:?}: use a name (KILL, TERM, INT, HUP, ...) or a number"
            ))),
        }
    }

    /// Signal number `n` (as an outcome reports it).
    pub fn from_number(n: i32) -> Signal {
        Signal(n)
    }

    /// Its number.
    pub fn number(self) -> i32 {
        self.0
    }

    /// `SIGTERM`, or `signal 42` for one without a name here.
    pub fn name(self) -> String {
        NAMED.iter().find(|(_, n)| *n == self.0).map_or_else(
            || format!("signal {}", self.0),
            |(name, _)| format!("SIG{name}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_both_ways() {
        for text in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(Signal::parse(text).unwrap(), Signal::KILL, "{text}");
        }
        assert_eq!(Signal::parse("term").unwrap().number(), 15);
        assert_eq!(Signal::TERM.name(), "SIGTERM");
        assert_eq!(Signal::parse("40").unwrap().name(), "signal 40");
        for bad in ["NOPE", "0", "99", ""] {
            assert!(Signal::parse(bad).is_err(), "{bad}");
        }
    }
}
