//! Reading a container's log as one stream: what is there (with `tail`, `since`, `until`),
//! then, when following, what comes, across rotations, until the container stops.
//!
//! `docker logs`, `docker attach`, `GET /containers/{id}/logs` and `start -a` are all this
//! stream, printed or served.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use wharf_containers::logs::{self, Entry};

use crate::{Error, Wharf};

/// How long a follower waits between looks at the log.
const POLL: Duration = Duration::from_millis(50);

/// Which part of a log to read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only the last N entries of what is there already (`--tail N`; `Some(0)`: none of it).
    pub tail: Option<usize>,
    /// Only entries from this time on.
    pub since: Option<SystemTime>,
    /// Only entries up to this time (following ends when it has passed).
    pub until: Option<SystemTime>,
    /// Keep reading what the container writes until it stops.
    pub follow: bool,
    /// Following a container that has not started yet waits for its start (an attach before
    /// `start`), instead of ending at once.
    pub from_start: bool,
}

/// What a [`LogStream`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogItem {
    /// One line the guest wrote.
    Entry(Entry),
    /// Nothing new yet; the next call waits a little first. Lets a follower do other work
    /// (pass signals on, notice a closed client) between looks.
    Waiting,
}

/// A container's log; see [`Wharf::logs`].
pub struct LogStream<'a> {
    wharf: &'a Wharf,
    id: String,
    path: PathBuf,
    backlog: std::vec::IntoIter<Entry>,
    query: LogQuery,
    /// The current file, held open: once the container is removed (`--rm`) its log is read
    /// to the end through this.
    file: Option<File>,
    offset: u64,
    inode: Option<u64>,
    waited: bool,
    done: bool,
}

impl Wharf {
    /// The log of container `name_or_id`, as `query` asks. Blocking: each `next` of a
    /// following stream may wait [`POLL`].
    pub fn logs(&self, name_or_id: &str, query: LogQuery) -> Result<LogStream<'_>, Error> {
        let (container, _) = self.container(name_or_id)?;
        let dir = self.containers()?.dir_of(&container.config.id);
        let path = logs::log_path(&dir);
        let mut backlog = logs::read_rotated(&dir).map_err(Error::io)?;
        // The current file is read once, and following goes on exactly where this read ended.
        let held = File::open(&path).ok();
        let (offset, inode) = match &held {
            Some(file) => {
                let inode = file.metadata().map_err(Error::io)?.ino();
                let (entries, offset) = read_held(file, 0)?;
                backlog.extend(entries);
                (offset, Some(inode))
            }
            None => (0, None),
        };
        backlog.retain(|e| in_window(e, &query));
        if let Some(n) = query.tail {
            let skip = backlog.len().saturating_sub(n);
            backlog.drain(..skip);
        }
        Ok(LogStream {
            wharf: self,
            id: container.config.id,
            path,
            backlog: backlog.into_iter(),
            query,
            file: held,
            offset,
            inode,
            waited: true,
            done: false,
        })
    }
}

/// The entries of the held `file` from `offset`, and where they end.
fn read_held(file: &File, offset: u64) -> Result<(Vec<Entry>, u64), Error> {
    logs::read_from(file.try_clone().map_err(Error::io)?, offset).map_err(Error::io)
}

fn time_of(entry: &Entry) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&entry.time).ok()
}

fn in_window(entry: &Entry, query: &LogQuery) -> bool {
    let time = time_of(entry);
    query.since.is_none_or(|s| time.is_some_and(|t| t >= s))
        && query.until.is_none_or(|u| time.is_some_and(|t| t <= u))
}

impl LogStream<'_> {
    /// New entries of the current file; `Ok(false)` once the container has stopped and
    /// everything it wrote has been read.
    fn look(&mut self, pending: &mut Vec<Entry>) -> Result<bool, Error> {
        // The state is read before the log, so nothing written before the end is missed. A
        // removed container has ended; its log is read to the end through the held file.
        let live = self.wharf.container(&self.id).is_ok_and(|(c, _)| {
            c.state.status.is_live()
                || (self.query.from_start && c.state.status == wharf_containers::Status::Created)
        });
        // Rotated (a new file at the path): the rest of the held one first, then the new one.
        let current = std::fs::metadata(&self.path).ok().map(|m| m.ino());
        if let Some(file) = &self.file {
            if current.is_some() && current != self.inode {
                let (entries, _) = read_held(file, self.offset)?;
                pending.extend(entries.into_iter().filter(|e| in_window(e, &self.query)));
                self.file = None;
                self.offset = 0;
            }
        }
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
            self.inode = current;
            self.offset = 0;
        }
        if let Some(file) = &self.file {
            // Truncated: start over at its beginning.
            if file.metadata().map_err(Error::io)?.len() < self.offset {
                self.offset = 0;
            }
            let (entries, next) = read_held(file, self.offset)?;
            self.offset = next;
            pending.extend(entries.into_iter().filter(|e| in_window(e, &self.query)));
        }
        let past_until = self.query.until.is_some_and(|u| SystemTime::now() > u);
        Ok(live && !past_until)
    }
}

impl Iterator for LogStream<'_> {
    type Item = Result<LogItem, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(entry) = self.backlog.next() {
            return Some(Ok(LogItem::Entry(entry)));
        }
        if self.done || !self.query.follow {
            return None;
        }
        if !self.waited {
            std::thread::sleep(POLL);
        }
        let mut pending = Vec::new();
        match self.look(&mut pending) {
            Ok(more) => self.done = !more,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.waited = !pending.is_empty();
        self.backlog = pending.into_iter();
        match self.backlog.next() {
            Some(entry) => Some(Ok(LogItem::Entry(entry))),
            None if self.done => None,
            None => Some(Ok(LogItem::Waiting)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_containers::{LogLimits, Target};

    /// A wharf with one (never started) container whose log holds `lines`, written `gap` apart,
    /// across rotated files.
    fn wharf_with_log(lines: usize, gap: Duration) -> (tempfile::TempDir, Wharf, String) {
        let tmp = tempfile::tempdir().unwrap();
        let wharf = Wharf::open(crate::Root::open(tmp.path().join("root")).unwrap()).unwrap();
        let target = Target::File {
            path: "/app.wasm".into(),
        };
        let config = wharf_containers::ContainerConfig {
            // Small files: the lines span several rotations.
            log: LogLimits {
                max_size: 300,
                max_files: 20,
            },
            ..wharf_containers::ContainerConfig::new("talker", target)
        };
        let containers = wharf.containers().unwrap();
        let c = containers.create(config).unwrap();
        let mut writer = logs::LogWriter::open(&containers.dir_of(&c.id), c.log).unwrap();
        for n in 0..lines {
            writer
                .write(logs::Stream::Stdout, &format!("line {n}\n"))
                .unwrap();
            std::thread::sleep(gap);
        }
        (tmp, wharf, c.id)
    }

    fn texts(stream: LogStream<'_>) -> Vec<String> {
        stream
            .map(|item| match item.unwrap() {
                LogItem::Entry(e) => e.log.trim_end().to_string(),
                LogItem::Waiting => panic!("a stream that does not follow never waits"),
            })
            .collect()
    }

    #[test]
    fn the_log_reads_whole_across_rotations_with_tail_since_and_until() {
        let (_tmp, wharf, id) = wharf_with_log(12, Duration::from_millis(20));
        let all = texts(wharf.logs(&id, LogQuery::default()).unwrap());
        let expected: Vec<String> = (0..12).map(|n| format!("line {n}")).collect();
        assert_eq!(all, expected);
        let tail = LogQuery {
            tail: Some(3),
            ..Default::default()
        };
        assert_eq!(texts(wharf.logs("talker", tail).unwrap()), expected[9..]);
        // Entries are stamped as written: a window in time picks the middle.
        let stamps: Vec<SystemTime> =
            wharf_containers::logs::read_all(&wharf.containers().unwrap().dir_of(&id))
                .unwrap()
                .iter()
                .map(|e| time_of(e).unwrap())
                .collect();
        let window = LogQuery {
            since: Some(stamps[4]),
            until: Some(stamps[7]),
            ..Default::default()
        };
        assert_eq!(texts(wharf.logs(&id, window).unwrap()), expected[4..=7]);
    }

    #[test]
    fn following_a_stopped_container_ends_after_what_is_there() {
        let (_tmp, wharf, id) = wharf_with_log(2, Duration::ZERO);
        let follow = LogQuery {
            follow: true,
            ..Default::default()
        };
        let items: Vec<LogItem> = wharf
            .logs(&id, follow)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(items.len(), 2, "{items:?}");
    }
}
