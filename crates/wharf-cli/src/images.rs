//! `wharf build` and `wharf images`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use wharf_core::docker::{self, BuildMessage};
use wharf_core::{BuildOptions, Reference, Wharf};

use crate::format::{Column, Listing, Row};
use crate::{fail, ENGINE_FAILED};

/// `wharf build -t NAME[:TAG] [-f Dockerfile] [--build-arg K=V] CONTEXT`
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and tag for the image (repeatable), e.g. -t app:1.0.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    tags: Vec<String>,

    /// The Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,

    /// A value for an ARG of the Dockerfile.
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_args: Vec<String>,

    /// Print only the image digest.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,

    /// Write the CNCF Wasm OCI artifact (one `application/wasm` layer) instead of an image
    /// with a root filesystem. CONTEXT may then be the .wasm file itself.
    #[arg(long = "artifact")]
    artifact: bool,

    /// The platform to build for: wasi/wasm, wasip1/wasm or wasip2/wasm (others are refused).
    #[arg(long = "platform", value_name = "PLATFORM")]
    platform: Option<String>,

    /// The build context directory (with --artifact: or a .wasm file).
    context: PathBuf,
}

/// Builds the image and returns the exit code.
pub fn build(wharf: &Wharf, args: BuildArgs) -> i32 {
    match try_build(wharf, args) {
        Ok(()) => 0,
        Err(e) => fail(e, ENGINE_FAILED),
    }
}

fn try_build(wharf: &Wharf, args: BuildArgs) -> Result<(), String> {
    wharf_core::check_platform(args.platform.as_deref().unwrap_or(""))
        .map_err(|e| e.to_string())?;
    let dockerfile_path = args
        .file
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    let dockerfile = if args.artifact && args.context.is_file() {
        String::new()
    } else {
        std::fs::read_to_string(&dockerfile_path)
            .map_err(|e| format!("cannot read {}: {e}", dockerfile_path.display()))?
    };
    let mut build_args = BTreeMap::new();
    for arg in &args.build_args {
        match arg.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), v.to_string()),
            None => build_args.insert(arg.clone(), std::env::var(arg).unwrap_or_default()),
        };
    }
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.parse()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        ),
        Err(_) => None,
    };
    let options = BuildOptions {
        dockerfile,
        build_args,
        source_date_epoch,
        tags: tags.clone(),
    };
    let quiet = args.quiet;
    let mut print = |message: BuildMessage| {
        if !quiet {
            println!("{}", message.text());
        }
    };
    let digest = if args.artifact {
        wharf.build_artifact(&args.context, &options, &mut print)
    } else {
        wharf.build(&args.context, &options, &mut print)
    }
    .map_err(|e| e.to_string())?;
    if quiet {
        println!("{digest}");
    }
    Ok(())
}

/// `wharf images [REPOSITORY[:TAG]] [-q] [--filter K=V] [--format FORMAT] [--no-trunc]`
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print only image IDs.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Filters: dangling=true|false, reference=PATTERN, label=K[=V], before=IMAGE,
    /// since=IMAGE.
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// A Go template (`{{.Repository}}:{{.Tag}}`, `table {{.ID}}\t{{.Size}}`) or `json`.
    #[arg(long = "format")]
    format: Option<String>,
    /// Show full image IDs.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Accepted for Docker's habit: wharf's images have no intermediate layers to show.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Only this repository (a pattern: `app`, `app:1`, `team/*`).
    repository: Option<String>,
}

/// `images`' fields, as Docker's `--format` names them.
const IMAGES: Listing = Listing {
    columns: &[
        Column {
            field: "Repository",
            header: "REPOSITORY",
        },
        Column {
            field: "Tag",
            header: "TAG",
        },
        Column {
            field: "Digest",
            header: "DIGEST",
        },
        Column {
            field: "ID",
            header: "IMAGE ID",
        },
        Column {
            field: "CreatedSince",
            header: "CREATED",
        },
        Column {
            field: "CreatedAt",
            header: "CREATED AT",
        },
        Column {
            field: "Size",
            header: "SIZE",
        },
        Column {
            field: "Containers",
            header: "CONTAINERS",
        },
    ],
    default: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
};

/// Lists the images and returns the exit code.
pub fn images(wharf: &Wharf, args: ImagesArgs) -> i32 {
    let images = wharf_core::ImageQuery::from_pairs(&args.filters, args.repository.as_deref())
        .and_then(|query| wharf.query_images(&query));
    let images = match images {
        Ok(images) => images,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    // One row a tag, as `docker images` prints the API's list.
    let rows: Vec<Row> = images
        .iter()
        .flat_map(|i| image_rows(i, args.no_trunc))
        .collect();
    if args.quiet {
        let mut ids: Vec<&String> = rows.iter().map(|r| &r["ID"]).collect();
        ids.dedup();
        ids.iter().for_each(|id| println!("{id}"));
        return 0;
    }
    match crate::format::print_rows(&IMAGES, args.format.as_deref(), &rows) {
        Ok(()) => 0,
        Err(e) => fail(e, ENGINE_FAILED),
    }
}

/// An image's rows: one a tag (`<none>` for an untagged image).
fn image_rows(image: &docker::api::ImageSummary, no_trunc: bool) -> Vec<Row> {
    let id = match no_trunc {
        true => image.id.clone(),
        false => wharf_core::short_id(image.id.trim_start_matches("sha256:")).to_string(),
    };
    let created =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(image.created.max(0) as u64);
    let since = created.elapsed().unwrap_or_default();
    let names: Vec<(String, String)> = match image.repo_tags.as_slice() {
        [] => vec![("<none>".into(), "<none>".into())],
        tags => tags
            .iter()
            .map(|t| match t.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => (name.into(), tag.into()),
                _ => (t.clone(), "<none>".into()),
            })
            .collect(),
    };
    let digest = image
        .repo_digests
        .first()
        .and_then(|d| d.split_once('@'))
        .map_or("<none>".to_string(), |(_, d)| d.to_string());
    names
        .into_iter()
        .map(|(repository, tag)| {
            Row::from([
                ("Repository", repository),
                ("Tag", tag),
                ("Digest", digest.clone()),
                ("ID", id.clone()),
                (
                    "CreatedSince",
                    format!("{} ago", docker::human_duration(since)),
                ),
                ("CreatedAt", humantime::format_rfc3339(created).to_string()),
                ("Size", crate::units::decimal(image.size.max(0) as u64)),
                ("Containers", image.containers.to_string()),
            ])
        })
        .collect()
}

/// `wharf rmi [-f] IMAGE...`
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove every tag of an image named by ID or digest, however many it has.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Tags, digests or ID prefixes.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Removes images and returns the exit code: 1 if any could not be removed, as Docker.
pub fn rmi(wharf: &Wharf, args: RmiArgs) -> i32 {
    let mut code = 0;
    for image in &args.images {
        match wharf.remove_image(image, args.force) {
            Ok(items) => items
                .iter()
                .for_each(|i| println!("{}", deletion(i, "Untagged", "Deleted"))),
            Err(e) => code = fail(e, 1),
        }
    }
    code
}

/// One removal as Docker's CLI prints it (`rmi` says "Untagged: X", `image prune` "untagged: X").
pub(crate) fn deletion(
    item: &docker::api::ImageDeleteResponseItem,
    untagged: &str,
    deleted: &str,
) -> String {
    match (&item.untagged, &item.deleted) {
        (Some(tag), _) => format!("{untagged}: {tag}"),
        (None, Some(digest)) => format!("{deleted}: {digest}"),
        (None, None) => String::new(),
    }
}

/// `wharf tag SOURCE TARGET`
#[derive(Debug, Args)]
pub struct TagArgs {
    /// An image in the store.
    source: String,
    /// The new name.
    target: String,
}

/// Tags an image and returns the exit code.
pub fn tag(wharf: &Wharf, args: TagArgs) -> i32 {
    match wharf.tag_image(&args.source, &args.target) {
        Ok(()) => 0,
        Err(e) => fail(e, 1),
    }
}

/// `wharf image inspect IMAGE...`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template applied to each image (`{{.Id}}`, `{{json .Config}}`).
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    /// Tags, digests or ID prefixes.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Prints a JSON array with one object per image, as `docker image inspect`; exit code 1 if
/// any image is missing (the others are still printed).
pub fn inspect(wharf: &Wharf, args: InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for image in &args.images {
        match wharf.inspect_image(image) {
            Ok(value) => found.push(serde_json::to_value(value).expect("an image serializes")),
            Err(e) => code = fail(e, 1),
        }
    }
    match crate::format::print_objects(args.format.as_deref(), &found) {
        Ok(()) => code,
        Err(e) => fail(e, 1),
    }
}

/// `wharf image prune [-a] [-f]`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only the untagged ones.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long = "force")]
    force: bool,
}

/// Prunes and prints the reclaimed space.
pub fn prune(wharf: &Wharf, args: PruneArgs) -> i32 {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !crate::units::confirm(&format!("This will remove {what}.")) {
            return 0;
        }
    }
    match wharf.prune_images(args.all) {
        Ok(pruned) => {
            let items = pruned.images_deleted.unwrap_or_default();
            if !items.is_empty() {
                println!("Deleted Images:");
                items
                    .iter()
                    .for_each(|i| println!("{}", deletion(i, "untagged", "deleted")));
                println!();
            }
            let freed = pruned.space_reclaimed.unwrap_or(0).max(0) as u64;
            println!("Total reclaimed space: {}", crate::units::decimal(freed));
            0
        }
        Err(e) => fail(e, ENGINE_FAILED),
    }
}

/// `wharf save [-o FILE] IMAGE...`
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Tags, digests or ID prefixes.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Writes the archive; a file appears only once complete.
pub fn save(wharf: &Wharf, args: SaveArgs) -> i32 {
    let result = match &args.output {
        Some(path) => save_to_file(wharf, &args.images, path),
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return fail(
                    "refusing to write an archive to a terminal; use -o FILE or redirect stdout",
                    1,
                );
            }
            let stdout = std::io::stdout().lock();
            wharf
                .save_images(&args.images, std::io::BufWriter::new(stdout))
                .map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail(e, 1),
    }
}

fn save_to_file(wharf: &Wharf, images: &[String], path: &std::path::Path) -> Result<(), String> {
    // The archive has no name until it is whole: a killed save leaves nothing behind.
    let pending = wharf_core::PendingFile::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    wharf
        .save_images(images, std::io::BufWriter::new(pending.file()))
        .map_err(|e| e.to_string())?;
    pending
        .persist(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `wharf load [-i FILE] [-q]`
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this file instead of stdin.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
}

/// Loads an archive and prints what it registered.
pub fn load(wharf: &Wharf, args: LoadArgs) -> i32 {
    let loaded = match &args.input {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => wharf.load_images(std::io::BufReader::new(file)),
            Err(e) => return fail(format!("cannot open {}: {e}", path.display()), 1),
        },
        None => wharf.load_images(std::io::stdin().lock()),
    };
    match loaded {
        Ok(images) => {
            if !args.quiet {
                for image in images {
                    if image.names.is_empty() {
                        println!("Loaded image ID: {}", image.digest);
                    }
                    for name in image.names {
                        let shown = Reference::parse(&name)
                            .map(|r| r.familiar_tag())
                            .unwrap_or(name);
                        println!("Loaded image: {shown}");
                    }
                }
            }
            0
        }
        Err(e) => fail(e, 1),
    }
}
