//! `wharf version`, `wharf info`, `wharf system df`, `wharf system prune` and
//! `wharf completion`: each one core call, shown as Docker shows it.

use clap::Args;
use serde_json::json;
use wharf_core::docker::api;
use wharf_core::Wharf;

use crate::format::{self, Column, Listing, Row};
use crate::units::decimal;
use crate::{fail, ENGINE_FAILED};

/// `wharf version [--format T]`
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// A Go template over the version object (e.g. '{{.Version}}'), or json.
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
}

/// Prints what wharf is and what it runs on.
pub fn version(args: VersionArgs) -> i32 {
    let facts = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Wasmtime": wharf_core::WASMTIME_VERSION,
        "ApiVersion": wharf_api::API_VERSION,
        "MinAPIVersion": wharf_api::MIN_API_VERSION,
        "Os": "linux",
        "Arch": wharf_core::docker::go_arch(),
        "Platforms": ["wasi/wasm", "wasip1/wasm", "wasip2/wasm"],
    });
    if args.format.is_some() {
        return print_object(args.format.as_deref(), facts);
    }
    println!("wharf:");
    println!(
        " Version:           {}",
        facts["Version"].as_str().unwrap_or("")
    );
    println!(" Wasmtime:          {}", wharf_core::WASMTIME_VERSION);
    println!(
        " API version:       {} (minimum version {})",
        wharf_api::API_VERSION,
        wharf_api::MIN_API_VERSION
    );
    println!(
        " OS/Arch:           linux/{}",
        wharf_core::docker::go_arch()
    );
    println!(
        " Guests:            wasi/wasm: preview1 modules, preview2 components, wasi:http servers"
    );
    0
}

/// `wharf info [--format T]`
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A Go template over Docker's info object (e.g. '{{.Containers}}'), or json.
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
}

/// Prints counts, the root and the machine, as `docker info` does.
pub fn info(wharf: &Wharf, args: InfoArgs) -> i32 {
    let info = match wharf.system_info() {
        Ok(info) => info,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    if args.format.is_some() {
        let value = serde_json::to_value(&info).expect("info serializes");
        return print_object(args.format.as_deref(), value);
    }
    let n = |v: Option<i64>| v.unwrap_or(0);
    let (entries, cache_bytes) = wharf.compiled_code_usage();
    println!("Containers: {}", n(info.containers));
    println!(" Running: {}", n(info.containers_running));
    println!(" Paused: {}", n(info.containers_paused));
    println!(" Stopped: {}", n(info.containers_stopped));
    println!("Images: {}", n(info.images));
    println!(
        "Server Version: {}",
        info.server_version.unwrap_or_default()
    );
    println!("Storage Driver: wharf (content-addressed store)");
    println!("Logging Driver: json-file");
    println!(
        "Runtimes: wharf (wasmtime {})",
        wharf_core::WASMTIME_VERSION
    );
    println!(
        "Compiled Code: {} entries, {} (AOT cache, least recently used evicted past WHARF_AOT_CACHE_SIZE)",
        entries,
        decimal(cache_bytes)
    );
    println!(
        "Kernel Version: {}",
        info.kernel_version.unwrap_or_default()
    );
    println!(
        "Operating System: {}",
        info.operating_system.unwrap_or_default()
    );
    println!("Architecture: {}", info.architecture.unwrap_or_default());
    println!("CPUs: {}", n(info.ncpu));
    println!(
        "Total Memory: {}",
        crate::units::binary(n(info.mem_total).max(0) as u64)
    );
    println!("Name: {}", info.name.unwrap_or_default());
    println!(
        "Docker Root Dir: {}",
        info.docker_root_dir.unwrap_or_default()
    );
    0
}

/// `wharf system df [--format T]`
#[derive(Debug, Args)]
pub struct DfArgs {
    /// A Go template for each row ('{{.Type}}\t{{.Size}}'), table, or json.
    #[arg(long = "format")]
    format: Option<String>,
}

const DF: Listing = Listing {
    columns: &[
        Column {
            field: "Type",
            header: "TYPE",
        },
        Column {
            field: "TotalCount",
            header: "TOTAL",
        },
        Column {
            field: "Active",
            header: "ACTIVE",
        },
        Column {
            field: "Size",
            header: "SIZE",
        },
        Column {
            field: "Reclaimable",
            header: "RECLAIMABLE",
        },
    ],
    default: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
};

/// Prints what images, containers, volumes and compiled code take.
pub fn df(wharf: &Wharf, args: DfArgs) -> i32 {
    let usage = match wharf.disk_usage() {
        Ok(usage) => usage,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    let containers = usage.containers.unwrap_or_default();
    let images = usage.images.unwrap_or_default();
    let volumes = usage.volumes.unwrap_or_default();
    let cache = usage.build_cache.unwrap_or_default();
    let image_rows: Vec<(bool, u64)> = images
        .iter()
        .map(|i| (i.containers > 0, i.size.max(0) as u64))
        .collect();
    let container_rows: Vec<(bool, u64)> = containers
        .iter()
        .map(|c| (c.state == Some(api::ContainerSummaryStateEnum::RUNNING), 0))
        .collect();
    let volume_rows: Vec<(bool, u64)> = volumes
        .iter()
        .map(|v| {
            let usage = v.usage_data.as_ref();
            let size = usage.map_or(0, |u| u.size.max(0) as u64);
            (usage.is_some_and(|u| u.ref_count > 0), size)
        })
        .collect();
    let cache_rows: Vec<(bool, u64)> = cache
        .iter()
        .map(|c| (c.in_use == Some(true), c.size.unwrap_or(0).max(0) as u64))
        .collect();
    let rows = [
        df_row("Images", &image_rows, true),
        df_row("Containers", &container_rows, true),
        df_row("Local Volumes", &volume_rows, true),
        df_row("Build Cache", &cache_rows, false),
    ];
    match format::print_rows(&DF, args.format.as_deref(), &rows) {
        Ok(()) => 0,
        Err(e) => fail(e, crate::containers::VERB_FAILED),
    }
}

/// One `system df` row from (in use, bytes) pairs.
fn df_row(kind: &str, items: &[(bool, u64)], percent: bool) -> Row {
    let size: u64 = items.iter().map(|(_, b)| b).sum();
    let reclaimable: u64 = items.iter().filter(|(used, _)| !used).map(|(_, b)| b).sum();
    let mut shown = decimal(reclaimable);
    if percent && size > 0 {
        shown = format!("{shown} ({}%)", reclaimable * 100 / size);
    }
    Row::from([
        ("Type", kind.to_string()),
        ("TotalCount", items.len().to_string()),
        (
            "Active",
            items.iter().filter(|(used, _)| *used).count().to_string(),
        ),
        ("Size", decimal(size)),
        ("Reclaimable", shown),
    ])
}

/// `wharf system prune [-a] [--volumes] [-f]`
#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove every image no container uses, not only the untagged ones.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Remove anonymous volumes no container uses too.
    #[arg(long = "volumes")]
    volumes: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long = "force")]
    force: bool,
}

/// Prunes containers, networks, images, (volumes) and compiled code, and prints what went.
pub fn prune(wharf: &Wharf, args: SystemPruneArgs) -> i32 {
    if !args.force {
        let images = match args.all {
            true => "all images without at least one container associated to them",
            false => "all dangling images",
        };
        let volumes = match args.volumes {
            true => "\n  - all anonymous volumes not used by at least one container",
            false => "",
        };
        let warning = format!(
            "This will remove:\n  - all stopped containers\n  - all networks not used by at least one container{volumes}\n  - {images}\n  - compiled code of images that are gone, and of files (compiled again on their next run)\n"
        );
        if !crate::units::confirm(&warning) {
            return 0;
        }
    }
    let pruned = match wharf.prune_system(args.all, args.volumes) {
        Ok(pruned) => pruned,
        Err(e) => return fail(e, ENGINE_FAILED),
    };
    let section = |title: &str, items: &[String]| {
        if !items.is_empty() {
            println!("{title}:");
            items.iter().for_each(|i| println!("{i}"));
            println!();
        }
    };
    section("Deleted Containers", &pruned.containers);
    section("Deleted Networks", &pruned.networks);
    section("Deleted Volumes", &pruned.volumes);
    let images: Vec<String> = pruned
        .images
        .images_deleted
        .unwrap_or_default()
        .iter()
        .map(|i| crate::images::deletion(i, "untagged", "deleted"))
        .collect();
    section("Deleted Images", &images);
    if pruned.compiled > 0 {
        println!("Deleted Compiled Code: {} entries\n", pruned.compiled);
    }
    println!("Total reclaimed space: {}", decimal(pruned.reclaimed));
    0
}

/// `wharf completion bash|zsh|fish`
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

/// Prints the completion script for `shell` (e.g. `wharf completion bash > /etc/bash_completion.d/wharf`).
pub fn completion(args: CompletionArgs, command: &mut clap::Command) -> i32 {
    clap_complete::generate(args.shell, command, "wharf", &mut std::io::stdout());
    0
}

/// One object, through a `--format` template (or as JSON).
fn print_object(template: Option<&str>, value: serde_json::Value) -> i32 {
    match format::print_objects(template, &[value]) {
        Ok(()) => 0,
        Err(e) => fail(e, crate::containers::VERB_FAILED),
    }
}
