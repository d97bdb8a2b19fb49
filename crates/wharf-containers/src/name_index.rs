//! Which container holds a name, answered by reading one container, not all of them.
//!
//! Each name has a claim beside the containers' directories: a symlink `name=NAME` whose
//! target is the holder's ID. Claims are written under the lock that orders creations,
//! renames and removals, always before the container (or its new name) becomes visible, and
//! dropped after it is gone. So a name in use always has a claim; a claim may outlive its
//! holder (a removal or rename cut short by kill -9), and such a claim is stale, not a
//! holder: a claim holds only while the container it points at still has that name in its
//! `config.json`. A stale claim is replaced by the next one for its name.
//!
//! Claims live in the same directory as the containers' directories so that one fsync of it
//! makes a new container and its claim durable together. A root made before claims existed
//! gets one for every container the first time a name is checked ([`INDEXED`] marks it done).

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::{io_error, is_full_id, read_json, Containers, Error, NameOfContainer};

/// The start of a claim's file name; container IDs are hex, so no container is named so.
const CLAIM_PREFIX: &str = "name=";

/// Present once every container of the root has a claim.
const INDEXED: &str = "names-indexed";

impl Containers {
    fn claim_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{CLAIM_PREFIX}{name}"))
    }

    /// The ID of the container named `name`, if one is.
    pub(crate) fn holder_of(&self, name: &str) -> Result<Option<String>, Error> {
        let path = self.claim_path(name);
        let id = match fs::read_link(&path) {
            Ok(target) => target.to_string_lossy().into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(format!("reading {}", path.display()))(e)),
        };
        if !is_full_id(&id) {
            return Ok(None);
        }
        let config = self.dir_of(&id).join("config.json");
        match read_json::<NameOfContainer>(&config, &id) {
            Ok(holder) if holder.name == name => Ok(Some(id)),
            Ok(_) | Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Claims `name` for container `id`, replacing a stale claim in one step. The caller holds
    /// the lock, has checked that nobody holds the name, and syncs the directory.
    pub(crate) fn claim(&self, name: &str, id: &str) -> Result<(), Error> {
        let path = self.claim_path(name);
        let tmp = self.dir.join(wharf_root::temporary_name(&format!(
            ".{CLAIM_PREFIX}{name}"
        )));
        std::os::unix::fs::symlink(id, &tmp)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                io_error(format!("claiming the name {name}"))(e)
            })
    }

    /// Drops the claim of `name` if it is `id`'s (best effort: a claim left behind is stale).
    pub(crate) fn release(&self, name: &str, id: &str) {
        let path = self.claim_path(name);
        if fs::read_link(&path).is_ok_and(|target| target.as_os_str() == id) {
            let _ = fs::remove_file(&path);
        }
    }

    /// Gives every container a claim if the root predates claims. The caller holds the lock.
    pub(crate) fn ensure_name_index(&self) -> Result<(), Error> {
        let marker = self.dir.join(INDEXED);
        if marker.exists() {
            return Ok(());
        }
        for container in self.each_container(|id| {
            read_json::<NameOfContainer>(&self.dir_of(id).join("config.json"), id)
        })? {
            self.claim(&container.name, &container.id)?;
        }
        let what = || {
            io_error(format!(
                "indexing container names in {}",
                self.dir.display()
            ))
        };
        self.sync_dir().map_err(what())?;
        fs::File::create(&marker)
            .and_then(|_| self.sync_dir())
            .map_err(what())
    }
}
