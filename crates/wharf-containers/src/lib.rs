//! Container state on disk, safe under many wharf processes and kill -9 at any moment.
//!
//! Layout under `<root>/containers/`:
//!
//! - `lock`: held (flock) while containers are created, renamed or removed, so names stay
//!   unique and a container appears or disappears whole;
//! - `<id>/config.json`: what to run, written once (the directory is prepared beside and
//!   renamed into place, so a container is never seen half-created);
//! - `<id>/state.json`: its lifecycle state, replaced atomically and durably; absent until
//!   its first start (a container without one is `created`);
//! - `<id>/monitor.lock`: held by the container's monitor process for as long as it lives.
//!   The kernel drops the flock when the monitor dies however it dies, so "is it running?" is
//!   answered by trying the lock, never by trusting a PID;
//! - `<id>/container.log[.N]`: the guest's output (see [`logs`]);
//! - `name=<NAME>`: a symlink to the ID of the container that has the name, so that name
//!   checks read one container, not all (see `name_index.rs`; `names-indexed` marks a root
//!   whose containers all have one).
//!
//! Only the holder of `monitor.lock` writes `state.json`. A state that says running while
//! nobody holds the lock is reconciled by whoever notices ([`Containers::reconcile`]): the
//! container is marked exited (137, "monitor died") and the caller is told, so it can say so.

#![warn(missing_docs)]

pub mod logs;
mod model;
mod name_index;
mod names;

use std::fs;
use std::io;
use std::path::PathBuf;

pub use model::{
    parse_size, ContainerConfig, LogLimits, MountSpec, PortSpec, RestartPolicy, State, Status,
    Target,
};
pub use wharf_root::FileLock;

/// Why a container operation failed; messages say what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container has this ID, ID prefix or name.
    #[error("no such container: {0}")]
    NotFound(String),
    /// A prefix that fits several containers.
    #[error("{prefix} names {count} containers; give more of the ID, or the name")]
    Ambiguous {
        /// What the user typed.
        prefix: String,
        /// How many matched.
        count: usize,
    },
    /// The name is taken.
    #[error("the container name \"{name}\" is already in use by container {id}; remove that container or choose another name")]
    NameInUse {
        /// The name.
        name: String,
        /// Who has it.
        id: String,
    },
    /// A malformed name.
    #[error("invalid container name {0:?}: use letters, digits, '_', '.', '-', starting with a letter or digit")]
    BadName(String),
    /// Reading or writing state failed.
    #[error("{what}: {source}")]
    Io {
        /// What wharf was doing.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// A state or config file is damaged.
    #[error("{path}: {reason}; remove the container's directory to drop it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// One container as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// What it runs.
    pub config: ContainerConfig,
    /// Where it is.
    pub state: State,
}

/// The containers under one root.
#[derive(Debug, Clone)]
pub struct Containers {
    dir: PathBuf,
}

/// RFC 3339 UTC with nanoseconds, as Docker prints times.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

impl Containers {
    /// The containers kept in `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Containers, Error> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
        Ok(Containers { dir })
    }

    /// The directory of container `id`.
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Syncs the directory that holds the containers' directories and the names' claims.
    fn sync_dir(&self) -> io::Result<()> {
        wharf_root::sync_dir(&self.dir)
    }

    /// Takes the lock that orders creations, renames and removals.
    pub fn lock(&self) -> Result<FileLock, Error> {
        let path = self.dir.join("lock");
        FileLock::exclusive(&path).map_err(io_error(format!("locking {}", path.display())))
    }

    /// Registers a new container in state `created`. The name must be free (a Docker-style
    /// name is chosen when `config.name` is empty).
    pub fn create(&self, config: ContainerConfig) -> Result<ContainerConfig, Error> {
        self.create_with(config, |_| Ok::<(), Error>(()))
    }

    /// [`Containers::create`], with `prepare` filling the container's directory first (its
    /// root filesystem, say): it runs before the container is visible, outside the lock that
    /// orders creations, so the container appears with everything `prepare` made or not at all.
    pub fn create_with<E: From<Error>>(
        &self,
        mut config: ContainerConfig,
        prepare: impl FnOnce(&std::path::Path) -> Result<(), E>,
    ) -> Result<ContainerConfig, E> {
        let staging = self
            .dir
            .join(wharf_root::temporary_name(&format!("new-{}", config.id)));
        let discard = |e: Error| {
            let _ = fs::remove_dir_all(&staging);
            e
        };
        fs::create_dir(&staging)
            .map_err(io_error(format!("creating {}", staging.display())))
            .map_err(discard)?;
        if let Err(e) = prepare(&staging) {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        let _lock = self.lock().map_err(discard)?;
        self.ensure_name_index().map_err(discard)?;
        if config.name.is_empty() {
            // A name whose check fails counts as taken; generate tries a bounded number.
            config.name = names::generate(|n| !matches!(self.holder_of(n), Ok(None)));
        } else if !names::valid(&config.name) {
            return Err(discard(Error::BadName(config.name)).into());
        } else if let Some(other) = self.holder_of(&config.name).map_err(discard)? {
            return Err(discard(Error::NameInUse {
                name: config.name,
                id: short_id(&other).to_string(),
            })
            .into());
        }
        self.claim(&config.name, &config.id).map_err(discard)?;
        // The staging directory is nobody else's: its files are written in place (no
        // replace-by-rename), and one sync of the containers' directory makes the container
        // and its name's claim durable together.
        let write = || -> io::Result<()> {
            let json = serde_json::to_vec_pretty(&config).expect("config serializes");
            wharf_root::write_new_durable(&staging.join("config.json"), &json)?;
            wharf_root::sync_dir(&staging)?;
            fs::rename(&staging, self.dir_of(&config.id))?;
            self.sync_dir()
        };
        write()
            .map_err(io_error(format!("creating container {}", config.name)))
            .map_err(discard)?;
        Ok(config)
    }

    /// Renames container `id` to `name` (which must be free and valid); returns its old name.
    /// The config is replaced atomically under the lock that orders names.
    pub fn rename(&self, id: &str, name: &str) -> Result<String, Error> {
        let _lock = self.lock()?;
        if !names::valid(name) {
            return Err(Error::BadName(name.to_string()));
        }
        self.ensure_name_index()?;
        if let Some(other) = self.holder_of(name)? {
            if other != id {
                return Err(Error::NameInUse {
                    name: name.to_string(),
                    id: short_id(&other).to_string(),
                });
            }
        }
        let mut config = self.load(id)?.config;
        let old = std::mem::replace(&mut config.name, name.to_string());
        // The new claim is durable before the config says the name: a name in use always
        // has its claim. The old one goes after (stale meanwhile, so harmless).
        self.claim(name, id)?;
        self.sync_dir()
            .map_err(io_error(format!("renaming container {old}")))?;
        let json = serde_json::to_vec_pretty(&config).expect("config serializes");
        wharf_root::write_atomic_durable(&self.dir_of(id).join("config.json"), &json)
            .map_err(io_error(format!("renaming container {old}")))?;
        self.release(&old, id);
        Ok(old)
    }

    /// Every container, oldest first. Does not reconcile; see [`Containers::reconcile`].
    pub fn list(&self) -> Result<Vec<Container>, Error> {
        self.list_unlocked()
    }

    fn list_unlocked(&self) -> Result<Vec<Container>, Error> {
        let mut containers = self.each_container(|id| self.load(id))?;
        containers.sort_by(|a, b| {
            (&a.config.created, &a.config.id).cmp(&(&b.config.created, &b.config.id))
        });
        Ok(containers)
    }

    /// `read` of each container directory's ID, skipping those removed meanwhile.
    fn each_container<T>(&self, read: impl Fn(&str) -> Result<T, Error>) -> Result<Vec<T>, Error> {
        let entries =
            fs::read_dir(&self.dir).map_err(io_error(format!("listing {}", self.dir.display())))?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_full_id(&name) {
                continue;
            }
            match read(&name) {
                Ok(item) => found.push(item),
                // Removed between the listing and the read.
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    /// Reads container `id`.
    pub fn load(&self, id: &str) -> Result<Container, Error> {
        let dir = self.dir_of(id);
        let config = read_json(&dir.join("config.json"), id)?;
        let state = match read_json(&dir.join("state.json"), id) {
            // Never started: `create` writes no state (a sync fewer on every `run -d`). Unless
            // the whole directory went meanwhile (`rm`), which is the container not found.
            Err(Error::NotFound(_)) if dir.join("config.json").exists() => State::default(),
            other => other?,
        };
        Ok(Container { config, state })
    }

    /// The ID that `name_or_id` names: a full ID, a name, or a unique ID prefix.
    pub fn resolve(&self, name_or_id: &str) -> Result<String, Error> {
        // A full ID (what `run -d` and the monitors pass) names its directory: no listing.
        if is_full_id(name_or_id) && self.dir_of(name_or_id).join("config.json").exists() {
            return Ok(name_or_id.to_string());
        }
        // A name (what users type most) is looked up by its claim: no listing either.
        if names::valid(name_or_id) {
            if let Some(id) = self.holder_of(name_or_id)? {
                return Ok(id);
            }
        }
        let all = self.list_unlocked()?;
        if let Some(c) = all
            .iter()
            .find(|c| c.config.id == name_or_id || c.config.name == name_or_id)
        {
            return Ok(c.config.id.clone());
        }
        let matches: Vec<&Container> = all
            .iter()
            .filter(|c| !name_or_id.is_empty() && c.config.id.starts_with(name_or_id))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one.config.id.clone()),
            [] => Err(Error::NotFound(name_or_id.to_string())),
            many => Err(Error::Ambiguous {
                prefix: name_or_id.to_string(),
                count: many.len(),
            }),
        }
    }

    /// Replaces container `id`'s state durably. Callers hold its monitor lock.
    pub fn write_state(&self, id: &str, state: &State) -> Result<(), Error> {
        let path = self.dir_of(id).join("state.json");
        let json = serde_json::to_vec_pretty(state).expect("state serializes");
        wharf_root::write_atomic_durable(&path, &json)
            .map_err(io_error(format!("writing {}", path.display())))
    }

    /// The monitor lock of container `id`, if no monitor holds it now. A lock taken on a
    /// file that `rm` has meanwhile moved away (with the container's directory) is no lock on
    /// this container: that is [`Error::NotFound`], so a monitor racing `rm` never runs a guest
    /// nobody can see.
    pub fn try_monitor_lock(&self, id: &str) -> Result<Option<FileLock>, Error> {
        use std::os::unix::fs::MetadataExt;
        // A container removed meanwhile has no directory to open the lock file in: NotFound.
        let path = self.dir_of(id).join("monitor.lock");
        let lock = match FileLock::try_exclusive(&path) {
            Ok(Some(lock)) => lock,
            Ok(None) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_error(format!("locking {}", path.display()))(e)),
        };
        let held = lock
            .file()
            .metadata()
            .map_err(io_error(format!("locking {}", path.display())))?;
        match fs::metadata(&path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => Ok(Some(lock)),
            _ => Err(Error::NotFound(id.to_string())),
        }
    }

    /// Whether process `pid` is the one holding container `id`'s monitor lock now (from the
    /// kernel's table of locks, `/proc/locks`). A PID read from a file may be a dead monitor's,
    /// recycled since, while someone else (a command reconciling the state) holds the lock
    /// for a moment: only the holder itself may be signalled.
    pub fn monitor_holds(&self, id: &str, pid: u32) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(inode) = fs::metadata(self.dir_of(id).join("monitor.lock")).map(|m| m.ino()) else {
            return false;
        };
        let Ok(locks) = fs::read_to_string("/proc/locks") else {
            return false;
        };
        locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END"
            fields.get(1) == Some(&"FLOCK")
                && fields.get(4).and_then(|p| p.parse::<u32>().ok()) == Some(pid)
                && fields
                    .get(5)
                    .and_then(|f| f.rsplit(':').next())
                    .and_then(|i| i.parse::<u64>().ok())
                    == Some(inode)
        })
    }

    /// The PID the monitor of container `id` wrote into its lock file, if any.
    pub fn monitor_pid(&self, id: &str) -> Option<u32> {
        fs::read_to_string(self.dir_of(id).join("monitor.lock"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether a monitor process is alive for container `id`.
    pub fn monitor_alive(&self, id: &str) -> bool {
        matches!(self.try_monitor_lock(id), Ok(None))
    }

    /// Fixes the state of a container whose monitor died (kill -9, OOM killer, a crash) while
    /// its state said running: it is marked exited with code 137, as Docker reports a
    /// SIGKILLed container. Returns the container as it is now and, when something was fixed,
    /// what was.
    pub fn reconcile(&self, id: &str) -> Result<(Container, Option<Reconciled>), Error> {
        self.reconcile_loaded(self.load(id)?)
    }

    /// [`Self::reconcile`] of a container just loaded (one of [`Self::list`]'s): it is read
    /// again only when its monitor is found gone, so a listing reads each container once.
    pub fn reconcile_loaded(
        &self,
        container: Container,
    ) -> Result<(Container, Option<Reconciled>), Error> {
        if !container.state.status.is_live() {
            return Ok((container, None));
        }
        let id = &container.config.id.clone();
        let Some(_lock) = self.try_monitor_lock(id)? else {
            return Ok((container, None));
        };
        // Read again under the lock: the monitor may have finished in between.
        let mut container = self.load(id)?;
        if !container.state.status.is_live() {
            return Ok((container, None));
        }
        let state = &mut container.state;
        state.status = Status::Exited;
        state.pid = None;
        state.exit_code = Some(137);
        state.ended = Some("monitor died".into());
        state.finished_at = Some(now_rfc3339());
        self.write_state(id, state)?;
        let fixed = Reconciled {
            id: id.to_string(),
            name: container.config.name.clone(),
            exit_code: 137,
        };
        Ok((container, Some(fixed)))
    }

    /// Deletes container `id`, its logs and its root filesystem. The caller holds its monitor
    /// lock (`_monitor`), which proves that no monitor runs it and that none can start it while
    /// it goes: a monitor that takes the lock afterwards finds it moved away.
    pub fn remove(&self, id: &str, _monitor: &FileLock) -> Result<(), Error> {
        let _lock = self.lock()?;
        let dir = self.dir_of(id);
        let name = read_json::<NameOfContainer>(&dir.join("config.json"), id).map(|c| c.name);
        let doomed = self
            .dir
            .join(wharf_root::temporary_name(&format!("removed-{id}")));
        match fs::rename(&dir, &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_error(format!("removing {}", dir.display()))(e)),
        }
        let _ = self.sync_dir();
        if let Ok(name) = name {
            self.release(&name, id);
        }
        fs::remove_dir_all(&doomed).map_err(io_error(format!("removing {}", doomed.display())))?;
        wharf_root::remove_abandoned_temporaries(&self.dir);
        Ok(())
    }
}

/// A container whose state said running while no monitor ran it, now marked exited: what
/// [`Containers::reconcile`] fixed. Its `Display` is the sentence a front end shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// The container's ID.
    pub id: String,
    /// The container's name.
    pub name: String,
    /// The exit code it now has (137: as Docker reports a SIGKILLed container).
    pub exit_code: i32,
}

impl std::fmt::Display for Reconciled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "container {} ({}) was marked running but its monitor is gone (killed?); it is now exited ({})",
            short_id(&self.id),
            self.name,
            self.exit_code
        )
    }
}

/// The short form of an ID (a container's, or a digest's hex) that Docker prints: its first
/// 12 characters.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A new random container ID: 64 hex digits.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    // SAFETY: getrandom writes at most `len` bytes into the buffer we own.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n, 32, "getrandom failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields of a container's `config.json` that name checks read.
#[derive(serde::Deserialize)]
struct NameOfContainer {
    id: String,
    name: String,
}

/// Whether `name` has the shape of a full container ID (64 hex digits).
fn is_full_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads and parses the JSON file at `path` of container `id`; a missing file is the
/// container's absence.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path, id: &str) -> Result<T, Error> {
    // Not fs::read, nor File's read_to_end: they ask the file's size and position first (a
    // statx and an lseek), which a listing of 1,000 containers pays 2,000 times each for
    // files of under a kilobyte. Through `take` the reads go straight into the buffer.
    let mut bytes = Vec::with_capacity(1024);
    fs::File::open(path)
        .and_then(|file| io::Read::read_to_end(&mut io::Read::take(file, u64::MAX), &mut bytes))
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
            _ => io_error(format!("reading {}", path.display()))(e),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
