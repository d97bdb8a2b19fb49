//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-22T07:00:00.123456789Z"}`.
//!
//! One writer (the monitor) appends entries in the order the guest wrote them, so stdout and
//! stderr stay apart (by `stream`) and in order (by position). A file that grows past
//! `max_size` is rotated (`container.log` → `container.log.1` → ...), keeping `max_files` files
//! in all, so a chatty guest cannot fill the disk.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LogLimits;

/// The current log file of a container directory.
pub fn log_path(container_dir: &Path) -> PathBuf {
    container_dir.join("container.log")
}

/// Which of the guest's streams a line came from (`"stdout"`/`"stderr"` in the file, as
/// Docker's json-file driver writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its newline when it had one.
    pub log: String,
    /// Its stream.
    pub stream: Stream,
    /// RFC 3339 with nanoseconds.
    pub time: String,
}

/// Appends entries to a container's log, rotating by size.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    limits: LogLimits,
}

impl LogWriter {
    /// Opens (appending to) the log in `container_dir`.
    pub fn open(container_dir: &Path, limits: LogLimits) -> io::Result<LogWriter> {
        let path = log_path(container_dir);
        let file = File::options().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path,
            file,
            size,
            limits,
        })
    }

    /// Writes one entry for `text` from `stream`, stamped now.
    pub fn write(&mut self, stream: Stream, text: &str) -> io::Result<()> {
        let entry = Entry {
            log: text.to_string(),
            stream,
            time: crate::now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&entry).expect("entries serialize");
        line.push(b'\n');
        if self.size > 0 && self.size + line.len() as u64 > self.limits.max_size {
            self.rotate()?;
        }
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.limits.max_files.max(1);
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if keep == 1 {
            self.file.set_len(0)?;
        } else {
            let _ = fs::remove_file(numbered(keep - 1));
            for n in (1..keep - 1).rev() {
                let _ = fs::rename(numbered(n), numbered(n + 1));
            }
            fs::rename(&self.path, numbered(1))?;
            self.file = File::options().create(true).append(true).open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// Every entry of the log in `container_dir`, oldest first (rotated files, then the current
/// one). A torn last line (a writer killed mid-line) is skipped.
pub fn read_all(container_dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = read_rotated(container_dir)?;
    if let Ok(file) = File::open(log_path(container_dir)) {
        entries.extend(read_from(file, 0)?.0);
    }
    Ok(entries)
}

/// The entries of the rotated files (`container.log.N`) only, oldest first.
pub fn read_rotated(container_dir: &Path) -> io::Result<Vec<Entry>> {
    let mut files: Vec<(u32, PathBuf)> = fs::read_dir(container_dir)?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("container.log.")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut entries = Vec::new();
    for path in files.into_iter().map(|(_, p)| p) {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        entries.extend(read_from(file, 0)?.0);
    }
    Ok(entries)
}

/// Entries of the current log file from byte `offset` on; returns them and the offset after
/// the last whole line (for `logs -f`).
pub fn read_from(mut file: File, offset: u64) -> io::Result<(Vec<Entry>, u64)> {
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut position = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        position += n as u64;
        if let Ok(entry) = serde_json::from_slice(&line) {
            entries.push(entry);
        }
    }
    Ok((entries, position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_streams_and_order_and_rotation_bounds_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let limits = LogLimits {
            max_size: 1000,
            max_files: 3,
        };
        let mut writer = LogWriter::open(dir.path(), limits).unwrap();
        for i in 0..200 {
            let stream = if i % 2 == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            writer.write(stream, &format!("line {i}\n")).unwrap();
        }
        let total: u64 = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= 3 * 1000, "{total}");
        assert!(!dir.path().join("container.log.3").exists());
        let entries = read_all(dir.path()).unwrap();
        // The newest survive, in order, with their streams.
        assert_eq!(entries.last().unwrap().log, "line 199\n");
        assert_eq!(entries.last().unwrap().stream, Stream::Stderr);
        let numbers: Vec<u32> = entries
            .iter()
            .map(|e| e.log.trim()[5..].parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogLimits::default()).unwrap();
        writer.write(Stream::Stdout, "whole\n").unwrap();
        let mut file = File::options()
            .append(true)
            .open(log_path(dir.path()))
            .unwrap();
        file.write_all(br#"{"log":"tor"#).unwrap();
        let entries = read_all(dir.path()).unwrap();
        assert_eq!(entries.len(), 1);
    }
}
