//! `wharf build` and `wharf images`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use wharf_core::{BuildOptions, Reference, Wharf};

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

    /// The build context directory.
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
    let dockerfile_path = args
        .file
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    let dockerfile = std::fs::read_to_string(&dockerfile_path)
        .map_err(|e| format!("cannot read {}: {e}", dockerfile_path.display()))?;
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
        Ok(v) => v
            .parse()
            .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        Err(_) => 0,
    };
    let options = BuildOptions {
        dockerfile,
        build_args,
        source_date_epoch,
        tags: tags.clone(),
    };
    let digest = wharf
        .build(&args.context, &options)
        .map_err(|e| e.to_string())?;
    if args.quiet {
        println!("{digest}");
    } else {
        println!("built {digest}");
        for tag in tags {
            println!(
                "tagged {}",
                tag.familiar_name() + ":" + tag.tag.as_deref().unwrap_or("latest")
            );
        }
    }
    Ok(())
}

/// `wharf images`
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print only image digests.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
}

/// Lists the images and returns the exit code.
pub fn images(wharf: &Wharf, args: ImagesArgs) -> i32 {
    let images = match wharf.images() {
        Ok(images) => images,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    if args.quiet {
        for image in images {
            println!("{}", &image.digest.hex()[..12]);
        }
        return 0;
    }
    println!(
        "{:<40} {:<16} {:<14} {:<22} SIZE",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
    );
    for image in images {
        println!(
            "{:<40} {:<16} {:<14} {:<22} {}",
            image.reference.familiar_name(),
            image.reference.tag.as_deref().unwrap_or("<none>"),
            &image.digest.hex()[..12],
            image.created.as_deref().unwrap_or("-"),
            human_size(image.size)
        );
    }
    0
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1}MB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1}kB", b as f64 / (1 << 10) as f64),
        b => format!("{b}B"),
    }
}

/// `wharf rmi IMAGE...`
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Tags, digests or ID prefixes.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Removes images and returns the exit code: 1 if any could not be removed, as Docker.
pub fn rmi(wharf: &Wharf, args: RmiArgs) -> i32 {
    let mut code = 0;
    for image in &args.images {
        match wharf.remove_image(image) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => code = fail(e, 1),
        }
    }
    code
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
