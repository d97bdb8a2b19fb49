//! Assembling an image in the store from a parsed Dockerfile and a build context.
//!
//! Output is reproducible: entries sorted, owners 0, timestamps from `SOURCE_DATE_EPOCH` (0 when
//! unset), gzip without a timestamp, JSON with sorted keys. The same inputs give the same digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use wharf_image::Reference;
use wharf_store::{Digest, ImageRecord, Store};

use crate::context::{expand_source, resolve_in_context, Ignore};
use crate::dockerfile::{self, Instruction};

const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// Seconds since the epoch for every timestamp (`SOURCE_DATE_EPOCH`); when unset, the
    /// newest modification time of the files the build copies (so the same inputs still
    /// give the same image, and `images` shows when they last changed).
    pub source_date_epoch: Option<u64>,
    /// Tags to give the image.
    pub tags: Vec<Reference>,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile is wrong.
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::ParseError),
    /// A COPY source, a .wasm file or the base image is wrong.
    #[error("{0}")]
    Input(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] wharf_store::Error),
}

/// The image being assembled.
#[derive(Default, Clone)]
pub(crate) struct Image {
    pub(crate) layers: Vec<Value>,
    layer_digests: Vec<Digest>,
    diff_ids: Vec<String>,
    config: serde_json::Map<String, Value>,
}

/// The finished stage `name` names: its `AS` name, or its index (`COPY --from=0`).
fn stage_named<'a>(stages: &'a [(Option<String>, Image)], name: &str) -> Option<&'a Image> {
    let lower = name.to_ascii_lowercase();
    stages
        .iter()
        .find(|(stage, _)| stage.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().and_then(|i| stages.get(i)))
        .map(|(_, image)| image)
}

/// One instruction a build is about to carry out: what `Step N/M : ...` reports.
#[derive(Debug, Clone, Copy)]
pub struct BuildStep<'a> {
    /// 1-based.
    pub index: usize,
    /// How many instructions the build has.
    pub total: usize,
    /// The instruction.
    pub instruction: &'a Instruction,
}

/// Builds the image and returns its manifest digest; `on_step` hears of each instruction
/// before it is carried out.
pub fn build(
    store: &Store,
    context: &Path,
    options: &BuildOptions,
    on_step: &mut dyn FnMut(BuildStep<'_>),
) -> Result<Digest, BuildError> {
    let instructions = dockerfile::parse(&options.dockerfile, &options.build_args)?;
    let ignore = Ignore::load(context);
    let epoch = match options.source_date_epoch {
        Some(epoch) => epoch,
        None => newest_input(context, &ignore, &instructions)?,
    };
    let mut image = Image::default();
    // Finished stages, for `FROM stage` and `COPY --from=stage` (by name or index).
    let mut stages: Vec<(Option<String>, Image)> = Vec::new();
    let mut current_stage: Option<Option<String>> = None;
    let total = instructions.len();
    for (index, instruction) in instructions.into_iter().enumerate() {
        on_step(BuildStep {
            index: index + 1,
            total,
            instruction: &instruction,
        });
        match instruction {
            Instruction::From { image: base, stage } => {
                if let Some(name) = current_stage.replace(stage) {
                    stages.push((name, std::mem::take(&mut image)));
                }
                image = match stage_named(&stages, &base) {
                    Some(earlier) => earlier.clone(),
                    None if base == "scratch" => Image::default(),
                    None => base_image(store, &base)?,
                };
            }
            Instruction::Copy {
                sources,
                dest,
                from: None,
            } => {
                let tar = copy_layer(context, &ignore, &sources, &dest, epoch)?;
                add_layer(store, &mut image, &tar)?;
            }
            Instruction::Copy {
                sources,
                dest,
                from: Some(from),
            } => {
                let source = match stage_named(&stages, &from) {
                    Some(stage) => stage.clone(),
                    None => base_image(store, &from)?,
                };
                let root = crate::stages::unpack(store, &source, &from)?;
                let tar = copy_layer(root.path(), &Ignore::default(), &sources, &dest, epoch)
                    .map_err(|e| match e {
                        BuildError::Input(why) => {
                            BuildError::Input(format!("COPY --from={from}: {why}"))
                        }
                        other => other,
                    })?;
                add_layer(store, &mut image, &tar)?;
            }
            Instruction::Entrypoint(argv) => {
                image.config.insert("Entrypoint".into(), json!(argv));
            }
            Instruction::Cmd(argv) => {
                image.config.insert("Cmd".into(), json!(argv));
            }
            Instruction::Env(pairs) => {
                let mut env: Vec<String> = string_list(image.config.get("Env"));
                for (key, value) in pairs {
                    env.retain(|e| e.split('=').next() != Some(key.as_str()));
                    env.push(format!("{key}={value}"));
                }
                image.config.insert("Env".into(), json!(env));
            }
            Instruction::Workdir(dir) => {
                image.config.insert("WorkingDir".into(), json!(dir));
            }
            Instruction::Label(pairs) => {
                let labels = image.config.entry("Labels").or_insert_with(|| json!({}));
                for (key, value) in pairs {
                    labels[key] = json!(value);
                }
            }
            Instruction::Expose(ports) => {
                let exposed = image
                    .config
                    .entry("ExposedPorts")
                    .or_insert_with(|| json!({}));
                for port in ports {
                    let port = if port.contains('/') {
                        port
                    } else {
                        format!("{port}/tcp")
                    };
                    exposed[port] = json!({});
                }
            }
        }
    }
    let created = rfc3339(epoch);
    let config = json!({
        "architecture": "wasm",
        "os": "wasi",
        "created": created,
        "config": Value::Object(image.config),
        "rootfs": {"type": "layers", "diff_ids": image.diff_ids},
    });
    let config_bytes = serde_json::to_vec(&config).expect("JSON");
    let config_digest = store.put_blob(&config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest.as_str(), "size": config_bytes.len()},
        "layers": image.layers,
    });
    let record = ImageRecord {
        config: config_digest,
        layers: image.layer_digests,
        extra: Vec::new(),
        created: Some(created),
    };
    register(store, &manifest, record, &options.tags)
}

/// Stores a built image's manifest and registers it with its tags in one store update.
pub(crate) fn register(
    store: &Store,
    manifest: &Value,
    record: ImageRecord,
    tags: &[Reference],
) -> Result<Digest, BuildError> {
    let manifest_digest = store.put_blob(&serde_json::to_vec(manifest).expect("JSON"))?;
    store.update(|index| {
        index.images.insert(manifest_digest.clone(), record.clone());
        for tag in tags {
            index.tags.insert(tag.to_string(), manifest_digest.clone());
        }
        Ok(())
    })?;
    Ok(manifest_digest)
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Starts from an image already in the store.
fn base_image(store: &Store, base: &str) -> Result<Image, BuildError> {
    let reference = Reference::parse(base).map_err(BuildError::Input)?;
    let index = store.index()?;
    let manifest_digest = index.tags.get(&reference.to_string()).ok_or_else(|| {
        BuildError::Input(format!(
            "base image {base} is not in the local store; pull it first"
        ))
    })?;
    let manifest: Value = serde_json::from_slice(
        &store.read_blob(manifest_digest, wharf_image::MAX_DOCUMENT_SIZE as u64)?,
    )
    .map_err(|e| BuildError::Input(format!("base image {base}: {e}")))?;
    let record = &index.images[manifest_digest];
    let config: Value = serde_json::from_slice(
        &store.read_blob(&record.config, wharf_image::MAX_DOCUMENT_SIZE as u64)?,
    )
    .map_err(|e| BuildError::Input(format!("base image {base}: {e}")))?;
    if config["architecture"] != "wasm" {
        return Err(BuildError::Input(format!(
            "base image {base} is not a Wasm image"
        )));
    }
    Ok(Image {
        layers: manifest["layers"].as_array().cloned().unwrap_or_default(),
        layer_digests: record.layers.clone(),
        diff_ids: string_list(config["rootfs"].get("diff_ids")),
        config: config["config"].as_object().cloned().unwrap_or_default(),
    })
}

fn add_layer(store: &Store, image: &mut Image, tar: &[u8]) -> Result<(), BuildError> {
    let diff_id = Digest::of(tar);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, tar).expect("writing to memory");
    let compressed = gz.finish().expect("writing to memory");
    let digest = store.put_blob(&compressed)?;
    image.layers.push(
        json!({"mediaType": LAYER_MEDIA_TYPE, "digest": digest.as_str(), "size": compressed.len()}),
    );
    image.layer_digests.push(digest);
    image.diff_ids.push(diff_id.to_string());
    Ok(())
}

/// What one path of a COPY layer holds.
enum Source {
    /// A regular file of the context.
    File(PathBuf),
    /// A symlink found inside a copied directory, kept as a link with this target.
    Link(PathBuf),
}

/// One COPY as a tar layer: Docker's rules for where things land.
/// The newest modification time of the files `instructions` copy from the context, in
/// seconds since the epoch; now when they copy nothing.
fn newest_input(
    context: &Path,
    ignore: &Ignore,
    instructions: &[Instruction],
) -> Result<u64, BuildError> {
    let mut newest = None;
    for instruction in instructions {
        if let Instruction::Copy {
            sources,
            dest,
            from: None,
        } = instruction
        {
            let (files, _) = copy_plan(context, ignore, sources, dest)?;
            for source in files.values() {
                if let Source::File(path) = source {
                    let modified = std::fs::metadata(path).and_then(|m| m.modified());
                    let seconds = modified
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs());
                    newest = newest.max(seconds);
                }
            }
        }
    }
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    Ok(newest.unwrap_or_else(now))
}

/// What one COPY puts where: image path to its source, and the directories it makes.
type CopyPlan = (BTreeMap<String, Source>, BTreeMap<String, ()>);

fn copy_layer(
    context: &Path,
    ignore: &Ignore,
    sources: &[String],
    dest: &str,
    epoch: u64,
) -> Result<Vec<u8>, BuildError> {
    let (files, mut dirs) = copy_plan(context, ignore, sources, dest)?;
    let mut builder = tar::Builder::new(Vec::new());
    for target in files.keys() {
        let mut parent = Path::new(target.trim_start_matches('/')).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(format!("/{}", p.display()), ());
            parent = p.parent();
        }
    }
    for dir in dirs.keys().filter(|d| !d.is_empty() && *d != "/") {
        let mut header = header(tar::EntryType::Directory, 0o755, 0, epoch);
        builder
            .append_data(
                &mut header,
                format!("{}/", dir.trim_start_matches('/')),
                std::io::empty(),
            )
            .map_err(|e| BuildError::Input(format!("COPY {dir}: {e}")))?;
    }
    for (target, source) in &files {
        let name = target.trim_start_matches('/');
        match source {
            Source::File(source) => append_file(&mut builder, name, source, epoch)?,
            Source::Link(link) => {
                let mut header = header(tar::EntryType::Symlink, 0o777, 0, epoch);
                builder
                    .append_link(&mut header, name, link)
                    .map_err(|e| BuildError::Input(format!("COPY {target}: {e}")))?;
            }
        }
    }
    builder
        .into_inner()
        .map_err(|e| BuildError::Input(format!("COPY: {e}")))
}

/// Where one COPY puts which context files (following `.dockerignore` and the context's
/// bounds).
fn copy_plan(
    context: &Path,
    ignore: &Ignore,
    sources: &[String],
    dest: &str,
) -> Result<CopyPlan, BuildError> {
    let mut files: BTreeMap<String, Source> = BTreeMap::new();
    let mut dirs: BTreeMap<String, ()> = BTreeMap::new();
    let mut expanded = Vec::new();
    for source in sources {
        expanded.extend(expand_source(context, ignore, source).map_err(BuildError::Input)?);
    }
    let into_dir = dest.ends_with('/') || expanded.len() > 1;
    for path in expanded {
        // A named source that is a symlink is followed, but only within the context.
        let resolved = resolve_in_context(context, ignore, &path).map_err(BuildError::Input)?;
        let full = context.join(&resolved);
        if full.is_dir() {
            walk(
                context,
                &resolved,
                &mut |relative_in_dir, source| {
                    let target = join(dest, &relative_in_dir.to_string_lossy());
                    files.insert(target, source);
                },
                ignore,
            )?;
            dirs.insert(dest.trim_end_matches('/').to_string(), ());
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = if into_dir {
                join(dest, &name)
            } else {
                dest.to_string()
            };
            files.insert(target, Source::File(full));
        }
    }
    Ok((files, dirs))
}

/// Checks that a `.wasm` is valid WebAssembly, saying in one line what is wrong if not
/// (wasmparser's own message for a bad header spans a dozen lines of Rust debug output).
fn validate_wasm(source: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let invalid = |why: &str| {
        BuildError::Input(format!(
            "COPY {}: not valid WebAssembly: {why}",
            source.display()
        ))
    };
    if !bytes.starts_with(b"\0asm") {
        return Err(invalid("it does not start with the \\0asm header"));
    }
    wasmparser::Validator::new()
        .validate_all(bytes)
        .map(drop)
        .map_err(|e| {
            let message = e.message();
            let first = message.lines().next().unwrap_or_default();
            invalid(&format!("{first} (at offset {:#x})", e.offset()))
        })
}

/// Appends the context file `source` as `name`, checking that a `.wasm` is WebAssembly.
fn append_file(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    source: &Path,
    epoch: u64,
) -> Result<(), BuildError> {
    let bytes = std::fs::read(source)
        .map_err(|e| BuildError::Input(format!("COPY {}: {e}", source.display())))?;
    if source.extension().is_some_and(|e| e == "wasm") {
        validate_wasm(source, &bytes)?;
    }
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(source)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    let mut header = header(
        tar::EntryType::Regular,
        if executable { 0o755 } else { 0o644 },
        bytes.len() as u64,
        epoch,
    );
    builder
        .append_data(&mut header, name, &bytes[..])
        .map_err(|e| BuildError::Input(format!("COPY /{name}: {e}")))
}

fn header(kind: tar::EntryType, mode: u32, size: u64, epoch: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(epoch);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), name)
}

/// Calls `found` for every file and symlink under context/`dir` (sorted, `.dockerignore`
/// applied) with its path relative to `dir`. Symlinks are kept as links, never followed; a
/// link whose target would leave the image is refused (wharf's unpacker refuses such layers),
/// with a hint to leave it out.
fn walk(
    context: &Path,
    dir: &Path,
    found: &mut dyn FnMut(&Path, Source),
    ignore: &Ignore,
) -> Result<(), BuildError> {
    fn visit(
        context: &Path,
        base: &Path,
        at: &Path,
        found: &mut dyn FnMut(&Path, Source),
        ignore: &Ignore,
    ) -> Result<(), BuildError> {
        let mut entries: Vec<_> = std::fs::read_dir(context.join(at))
            .map_err(|e| BuildError::Input(format!("COPY {}: {e}", at.display())))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let relative = at.join(entry.file_name());
            if ignore.ignored(&relative.to_string_lossy()) {
                continue;
            }
            let kind = entry
                .file_type()
                .map_err(|e| BuildError::Input(e.to_string()))?;
            let inside_dir = relative.strip_prefix(base).unwrap_or(&relative);
            if kind.is_dir() {
                visit(context, base, &relative, found, ignore)?;
            } else if kind.is_file() {
                found(inside_dir, Source::File(context.join(&relative)));
            } else if kind.is_symlink() {
                let link = std::fs::read_link(context.join(&relative))
                    .map_err(|e| BuildError::Input(format!("COPY {}: {e}", relative.display())))?;
                if !link_stays_inside(inside_dir, &link) {
                    return Err(BuildError::Input(format!(
                        "COPY {}: a symlink to {}, which leaves the copied directory; \
                         add it to .dockerignore or make it relative",
                        relative.display(),
                        link.display()
                    )));
                }
                found(inside_dir, Source::Link(link));
            }
        }
        Ok(())
    }
    visit(context, dir, dir, found, ignore)
}

/// Whether a symlink at `at` (relative to a copied directory) pointing to `link` stays inside
/// that directory, judged on the text of the link as the unpacker judges it.
fn link_stays_inside(at: &Path, link: &Path) -> bool {
    if link.is_absolute() {
        return false;
    }
    let mut depth: i64 = at.components().count() as i64 - 1;
    for part in link.components() {
        match part {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Seconds since the epoch as RFC 3339 UTC (civil-from-days, Howard Hinnant's algorithm).
pub(crate) fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
