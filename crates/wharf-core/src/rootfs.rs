//! Root filesystems: a container's own (unpacked at create, kept to rm), one unpacked for a
//! single run, or one someone else prepared (containerd mounts one before a shim sees it),
//! and running the program inside one.

use std::path::{Path, PathBuf};

use wharf_store::{Digest, Store};
use wharf_unpack::{Compression, Limits};

use crate::{Error, Outcome, SandboxPolicy, StopHandle, Wharf};

impl Wharf {
    /// Runs the program `policy.args[0]` (an absolute path inside `rootfs`) of a root
    /// filesystem someone else prepared, with the policy's env and working directory, and the
    /// root filesystem granted beside the policy's mounts. Nothing outside `rootfs` and the
    /// policy's mounts is reachable.
    pub fn run_rootfs(
        &self,
        rootfs: &Path,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        let whose = format!("in the root filesystem {}", rootfs.display());
        self.run_in_rootfs(rootfs, &whose, policy, stop)
    }

    /// Whether the program `args[0]` of the root filesystem `rootfs` is a wasi:http
    /// component, served on published ports rather than run once. A front end that publishes
    /// ports only for servers (the shim) asks before it runs it.
    pub fn rootfs_serves_http(&self, rootfs: &Path, args: &[String]) -> Result<bool, Error> {
        let whose = format!("in the root filesystem {}", rootfs.display());
        let (_, program) = program_in(rootfs, args, &whose)?;
        let bytes = std::fs::read(&program).map_err(Error::io)?;
        Ok(serves_http(bytes))
    }

    /// [`Wharf::run_rootfs`], with `whose` naming the root filesystem in messages.
    pub(crate) fn run_in_rootfs(
        &self,
        rootfs: &Path,
        whose: &str,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        let (root, wasm_path) = program_in(rootfs, &policy.args, whose)?;
        let program = &policy.args[0];
        let bytes = std::fs::read(&wasm_path).map_err(Error::io)?;
        let mut policy = policy.clone();
        if let Some(workdir) = &policy.workdir {
            make_dir_inside(&root, workdir, "working directory")?;
        }
        crate::file_mounts::place_in_rootfs(&root, &mut policy.mounts)?;
        let rootfs_mounts =
            rootfs_mounts(&root, policy.workdir.as_deref(), policy.read_only_rootfs)?;
        policy.mounts.splice(0..0, rootfs_mounts);
        self.run_bytes(Path::new(program), bytes, &policy, stop)
    }
}

/// Whether the WebAssembly binary `bytes` is a wasi:http component (served on published ports
/// rather than run once).
pub fn serves_http(bytes: Vec<u8>) -> bool {
    wharf_sandbox::WasmBinary::parse(bytes).is_ok_and(|w| w.exports_http_handler())
}

/// The root filesystem, canonical, and the file of its program `args[0]` (an absolute path
/// inside it, which may not lead out of it).
fn program_in(rootfs: &Path, args: &[String], whose: &str) -> Result<(PathBuf, PathBuf), Error> {
    let Some(program) = args.first() else {
        return Err(Error::InvalidArgument(format!(
            "no program to run {whose}: the argv is empty"
        )));
    };
    let root = rootfs.canonicalize().map_err(|e| {
        Error::InvalidArgument(format!("root filesystem {}: {e}", rootfs.display()))
    })?;
    let inside = root
        .join(program.trim_start_matches('/'))
        .canonicalize()
        .ok()
        .filter(|p| p.starts_with(&root) && p.is_file());
    match inside {
        Some(path) => Ok((root, path)),
        None => Err(Error::NoSuchFile(PathBuf::from(format!(
            "{program} ({whose})"
        )))),
    }
}

/// An image's env (`KEY=VALUE` strings) with the user's after it; a user's key replaces the
/// image's (Docker's rule).
pub(crate) fn image_env_then(
    image: &[String],
    user: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = image
        .iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .filter(|(k, _)| !user.iter().any(|(uk, _)| uk == k))
        .collect();
    env.extend(user);
    env
}

/// Where a run's root filesystem is: a container's own (kept from create to rm, so writes
/// survive restarts), or one unpacked for this run only, in a locked work directory that no
/// sweeper removes while the run lasts, and that goes when the run ends.
pub(crate) enum RunRootfs {
    Container(PathBuf),
    Temporary {
        /// Held (locked) until the run ends, then removed.
        _work: wharf_root::WorkDir,
        path: PathBuf,
    },
}

impl RunRootfs {
    pub(crate) fn path(&self) -> &Path {
        match self {
            RunRootfs::Container(path) | RunRootfs::Temporary { path, .. } => path,
        }
    }

    /// The root filesystem for one run: the container's at `own` (unpacked there first if it
    /// is missing), or a fresh temporary one.
    pub(crate) fn prepare(
        wharf: &Wharf,
        store: &Store,
        layers: &[wharf_image::Descriptor],
        own: Option<&Path>,
    ) -> Result<RunRootfs, Error> {
        if let Some(own) = own {
            ensure_rootfs(store, layers, own)?;
            return Ok(RunRootfs::Container(own.to_path_buf()));
        }
        let base = wharf.root.path().join("run");
        std::fs::create_dir_all(&base).map_err(Error::io)?;
        wharf_root::remove_abandoned_temporaries(&base);
        let work = wharf_root::WorkDir::create(&base, "rootfs").map_err(Error::io)?;
        let path = work.data();
        unpack_layers(store, layers, &path)?;
        Ok(RunRootfs::Temporary { _work: work, path })
    }
}

/// Makes sure `dir` holds the image's unpacked layers: unpacked beside it and renamed into
/// place, so that `dir` exists only whole. The caller owns `dir` (a container being created, or
/// its monitor), so leftovers of an earlier killed attempt beside it can go.
pub(crate) fn ensure_rootfs(
    store: &Store,
    layers: &[wharf_image::Descriptor],
    dir: &Path,
) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    let stem = dir
        .file_name()
        .map_or_else(|| "rootfs".into(), |n| n.to_string_lossy().into_owned());
    if let Ok(entries) = std::fs::read_dir(parent) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{stem}.")) && name.ends_with(".tmp") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let staging = parent.join(wharf_root::temporary_name(&stem));
    let result = std::fs::create_dir_all(&staging)
        .map_err(Error::io)
        .and_then(|()| unpack_layers(store, layers, &staging))
        .and_then(|()| std::fs::rename(&staging, dir).map_err(Error::io));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn unpack_layers(
    store: &Store,
    layers: &[wharf_image::Descriptor],
    dest: &Path,
) -> Result<(), Error> {
    for layer in layers {
        let media_type = layer.media_type().to_string();
        let compression = Compression::from_media_type(&media_type).ok_or_else(|| {
            Error::Image(format!(
                "layer {} has media type {media_type}, which is not a tar layer",
                layer.digest()
            ))
        })?;
        let digest = Digest::parse(layer.digest().as_ref()).map_err(Error::Image)?;
        let file = std::fs::File::open(store.blob_path(&digest))
            .map_err(|_| Error::Image(format!("layer {digest} is missing from the store")))?;
        wharf_unpack::unpack_layer(
            std::io::BufReader::new(file),
            compression,
            dest,
            Limits::default(),
        )
        .map_err(|e| Error::Image(format!("layer {digest}: {e}")))?;
    }
    Ok(())
}

/// How the guest sees the root filesystem at `root`. wasi-libc picks a preopen by the longest
/// prefix and treats both `/` and the working directory's `.` as the empty prefix, so the two
/// cannot be granted together: with a working directory other than `/`, each top-level
/// directory of the root filesystem is granted at its own path instead of `/` as a whole.
fn rootfs_mounts(
    root: &Path,
    workdir: Option<&str>,
    read_only: bool,
) -> Result<Vec<crate::Mount>, Error> {
    let mount = |host: PathBuf, guest: String| crate::Mount {
        host,
        guest,
        read_only,
    };
    if workdir.is_none_or(|w| w.trim_end_matches('/').is_empty()) {
        return Ok(vec![mount(root.to_path_buf(), "/".into())]);
    }
    let mut mounts = Vec::new();
    let entries = std::fs::read_dir(root).map_err(Error::io)?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let guest = format!("/{}", entry.file_name().to_string_lossy());
            mounts.push(mount(entry.path(), guest));
        }
    }
    mounts.sort_by(|a, b| a.guest.cmp(&b.guest));
    Ok(mounts)
}

/// Creates the directory `dir` (a guest path) inside the root filesystem `root` (canonical)
/// when it is missing, as Docker does for a working directory at create; returns where it is.
/// Each existing step is checked to stay inside `root`, so a symlink in the image cannot make
/// wharf create directories elsewhere. `what` names the directory in errors.
pub(crate) fn make_dir_inside(root: &Path, dir: &str, what: &str) -> Result<PathBuf, Error> {
    let refuse = || {
        Error::InvalidArgument(format!(
            "{what} {dir} leads out of the container's filesystem"
        ))
    };
    let mut at = root.to_path_buf();
    for part in dir.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(refuse());
        }
        at.push(part);
        match at.canonicalize() {
            Ok(real) if real.starts_with(root) && real.is_dir() => at = real,
            Ok(real) if real.starts_with(root) => {
                let inside = real.strip_prefix(root).unwrap_or(&real).display();
                let why = format!("/{inside} is not a directory in the container's filesystem");
                return Err(Error::InvalidArgument(format!("{what} {dir}: {why}")));
            }
            Ok(_) => return Err(refuse()),
            Err(_) if at.symlink_metadata().is_ok() => return Err(refuse()),
            Err(_) => std::fs::create_dir(&at).map_err(Error::io)?,
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_root_filesystem_runs_its_program_and_nothing_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let wharf = Wharf::open(crate::Root::open(tmp.path().join("root")).unwrap()).unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        let exit7 = r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (i32.const 7))))"#;
        std::fs::write(rootfs.join("bin/app.wat"), exit7).unwrap();
        std::fs::write(tmp.path().join("outside.wat"), exit7).unwrap();
        std::os::unix::fs::symlink("../../outside.wat", rootfs.join("bin/escape.wat")).unwrap();
        let run = |program: &str| {
            let policy = SandboxPolicy {
                args: vec![program.to_string()],
                ..Default::default()
            };
            wharf.run_rootfs(&rootfs, &policy, &StopHandle::new())
        };
        assert_eq!(
            run("/bin/app.wat").unwrap(),
            Outcome::Exited {
                code: 7,
                memory_limit_hit: false
            }
        );
        for missing in ["/bin/nope.wat", "/bin/escape.wat", "/../outside.wat"] {
            let err = run(missing).unwrap_err();
            assert!(matches!(err, Error::NoSuchFile(_)), "{missing}: {err}");
        }
        let err = wharf
            .run_rootfs(&rootfs, &SandboxPolicy::default(), &StopHandle::new())
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }
}
