//! Reading the event log as one stream: what is logged from `since` on, then, when following,
//! what comes, across moves to the old generation.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Event, EventQuery, LOG, OLD_LOG};

/// How long a follower waits between looks at the log.
const POLL: Duration = Duration::from_millis(50);

/// What an [`EventStream`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventItem {
    /// One event.
    Event(Event),
    /// Nothing new yet; the next call waits a little first. Lets a follower do other work
    /// (notice a closed client) between looks.
    Waiting,
}

/// The event log as [`crate::Wharf::events`] reads it.
pub struct EventStream {
    log: PathBuf,
    query: EventQuery,
    backlog: VecDeque<Event>,
    /// The current generation, read up to `partial`'s start.
    file: Option<File>,
    inode: Option<u64>,
    /// The start of a line whose end is not written yet.
    partial: Vec<u8>,
    waited: bool,
    done: bool,
}

impl EventStream {
    pub(super) fn new(root: &Path, query: EventQuery) -> EventStream {
        let mut stream = EventStream {
            log: root.join(LOG),
            query,
            backlog: VecDeque::new(),
            file: None,
            inode: None,
            partial: Vec::new(),
            waited: false,
            done: false,
        };
        // Without `since`, only what happens from now on: read past what is there.
        let keep_past = stream.query.since.is_some();
        if keep_past {
            if let Ok(mut old) = File::open(root.join(OLD_LOG)) {
                let mut bytes = Vec::new();
                if old.read_to_end(&mut bytes).is_ok() {
                    stream.take_lines(&bytes, true);
                }
            }
        }
        stream.open_current();
        let fresh = stream.read_new();
        if keep_past {
            stream.take_lines(&fresh, false);
        } else {
            stream.partial.clear();
        }
        stream
    }

    fn open_current(&mut self) {
        if let Ok(file) = File::open(&self.log) {
            self.inode = file.metadata().ok().map(|m| m.ino());
            self.file = Some(file);
            self.partial.clear();
        }
    }

    /// What the current generation gained since the last look.
    fn read_new(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Some(file) = &mut self.file {
            let _ = file.read_to_end(&mut bytes);
        }
        bytes
    }

    /// Queues the complete lines of `bytes` that the query wants; a last line without its end
    /// waits in `partial` unless `whole` (a finished generation).
    fn take_lines(&mut self, bytes: &[u8], whole: bool) {
        let mut text = if whole {
            bytes.to_vec()
        } else {
            let mut joined = std::mem::take(&mut self.partial);
            joined.extend_from_slice(bytes);
            joined
        };
        if !whole {
            let end = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            self.partial = text.split_off(end);
        }
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            // A damaged line (a write cut by a full disk) is skipped, not fatal.
            let Ok(event) = serde_json::from_slice::<Event>(line) else {
                continue;
            };
            let time = event.time();
            if self.query.since.is_some_and(|s| time < s) {
                continue;
            }
            if self.query.until.is_some_and(|u| time > u) {
                continue;
            }
            if self.query.filter.matches(&event) {
                self.backlog.push_back(event);
            }
        }
    }

    /// Looks for new events: more in the current generation, or a new generation.
    fn look(&mut self) {
        let fresh = self.read_new();
        if !fresh.is_empty() {
            self.take_lines(&fresh, false);
            return;
        }
        let now = std::fs::metadata(&self.log).ok().map(|m| m.ino());
        if now.is_some() && now != self.inode {
            // Moved to the old generation: what it gained before the move was read above.
            // Moved twice: the generation in between is the old one now; read it whole.
            let old = self.log.with_file_name(OLD_LOG);
            if self.inode.is_some() && std::fs::metadata(&old).ok().map(|m| m.ino()) != self.inode {
                if let Ok(bytes) = std::fs::read(&old) {
                    self.partial.clear();
                    self.take_lines(&bytes, true);
                }
            }
            self.open_current();
            let fresh = self.read_new();
            self.take_lines(&fresh, false);
        }
    }
}

impl Iterator for EventStream {
    type Item = EventItem;

    fn next(&mut self) -> Option<EventItem> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                return Some(EventItem::Event(event));
            }
            if self.done || !self.query.follow {
                return None;
            }
            if self.query.until.is_some_and(|u| SystemTime::now() > u) {
                // One last look for what was written before `until` passed.
                self.look();
                self.done = true;
                continue;
            }
            if self.waited {
                std::thread::sleep(POLL);
                self.waited = false;
            }
            self.look();
            if self.backlog.is_empty() {
                self.waited = true;
                return Some(EventItem::Waiting);
            }
        }
    }
}
