//! `wharf volume ...` and `wharf network ...`: named volumes and user networks, the same
//! objects `docker volume` and `docker network` see through the API service.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use wharf_core::{Error, Wharf};

use crate::format::{self, Column, Listing, Row};

use crate::containers::VERB_FAILED;
use crate::fail;

/// `wharf volume ...`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Create a volume (a random name when none is given).
    Create(CreateArgs),
    /// Show volumes as JSON.
    Inspect(NamesArgs),
    /// Remove volumes.
    Rm(RmArgs),
    /// Remove every volume no container uses.
    Prune(PruneArgs),
}

/// `wharf network ...`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Create a network.
    Create(CreateArgs),
    /// Show networks as JSON.
    Inspect(NamesArgs),
    /// Remove networks.
    Rm(NamesArgs),
    /// Put a container on a network.
    Connect(ConnectArgs),
    /// Take a container off a network.
    Disconnect(ConnectArgs),
    /// Remove every network no container is on.
    Prune(PruneArgs),
}

/// `ls [-q] [--format T]`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only names (volumes) or IDs (networks).
    #[arg(short, long)]
    quiet: bool,
    /// A Go template for each row ('{{.Name}}'), table, or json.
    #[arg(long = "format")]
    format: Option<String>,
}

const VOLUMES: Listing = Listing {
    columns: &[
        Column {
            field: "Driver",
            header: "DRIVER",
        },
        Column {
            field: "Name",
            header: "VOLUME NAME",
        },
        Column {
            field: "Mountpoint",
            header: "MOUNTPOINT",
        },
        Column {
            field: "Scope",
            header: "SCOPE",
        },
        Column {
            field: "Labels",
            header: "LABELS",
        },
        Column {
            field: "CreatedAt",
            header: "CREATED",
        },
    ],
    default: "table {{.Driver}}\t{{.Name}}",
};

const NETWORKS: Listing = Listing {
    columns: &[
        Column {
            field: "ID",
            header: "NETWORK ID",
        },
        Column {
            field: "Name",
            header: "NAME",
        },
        Column {
            field: "Driver",
            header: "DRIVER",
        },
        Column {
            field: "Scope",
            header: "SCOPE",
        },
        Column {
            field: "Labels",
            header: "LABELS",
        },
        Column {
            field: "CreatedAt",
            header: "CREATED AT",
        },
    ],
    default: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
};

/// `KEY=VALUE,...`, as Docker's listings show labels.
fn label_text<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<String> = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// Prints a listing's rows, or only each row's `key` with `-q`.
fn print_listing(listing: &Listing, args: &LsArgs, key: &str, rows: &[Row]) -> Result<(), Error> {
    if args.quiet {
        rows.iter().for_each(|r| println!("{}", r[key]));
        return Ok(());
    }
    format::print_rows(listing, args.format.as_deref(), rows).map_err(Error::InvalidArgument)
}

/// `create [--label K=V]... [NAME]`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Labels, `KEY=VALUE`.
    #[arg(long = "label")]
    labels: Vec<String>,
    /// The name.
    name: Option<String>,
}

/// `NAME...`.
#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Names or IDs.
    #[arg(required = true)]
    names: Vec<String>,
}

/// `rm [-f] NAME...`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove even when containers use it.
    #[arg(short, long)]
    force: bool,
    /// Names.
    #[arg(required = true)]
    names: Vec<String>,
}

/// `prune [-f]`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask (wharf never asks; accepted for Docker's habit).
    #[arg(short, long)]
    force: bool,
    /// Volumes: named ones too, not only anonymous ones (as Docker 23+).
    #[arg(short, long)]
    all: bool,
}

/// `connect [--alias A]... NETWORK CONTAINER`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Names the container has on the network.
    #[arg(long = "alias")]
    aliases: Vec<String>,
    /// The network.
    network: String,
    /// The container.
    container: String,
}

fn labels(pairs: &[String]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON"));
}

/// Runs a `wharf volume` command.
pub fn volume(wharf: &Wharf, command: VolumeCommand) -> i32 {
    let done = match command {
        VolumeCommand::Ls(args) => wharf.volumes().and_then(|volumes| {
            let rows: Vec<Row> = volumes
                .iter()
                .map(|v| {
                    Row::from([
                        ("Driver", v.driver.clone()),
                        ("Name", v.name.clone()),
                        ("Mountpoint", v.mountpoint.clone()),
                        ("Scope", "local".to_string()),
                        ("Labels", label_text(&v.labels)),
                        ("CreatedAt", v.created_at.clone().unwrap_or_default()),
                    ])
                })
                .collect();
            print_listing(&VOLUMES, &args, "Name", &rows)
        }),
        VolumeCommand::Create(args) => wharf
            .create_volume(args.name.as_deref(), labels(&args.labels))
            .map(|v| println!("{}", v.name)),
        VolumeCommand::Inspect(args) => args
            .names
            .iter()
            .map(|n| wharf.volume(n))
            .collect::<Result<Vec<_>, _>>()
            .map(|all| print_json(&all)),
        VolumeCommand::Rm(args) => {
            let mut code = 0;
            for name in &args.names {
                match wharf.remove_volume(name, args.force) {
                    Ok(()) => println!("{name}"),
                    Err(e) => code = fail(e, VERB_FAILED),
                }
            }
            return code;
        }
        VolumeCommand::Prune(args) => wharf.prune_volumes(args.all).map(|(removed, freed)| {
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                removed.iter().for_each(|n| println!("{n}"));
            }
            println!("\nTotal reclaimed space: {}", crate::units::decimal(freed));
        }),
    };
    match done {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// Runs a `wharf network` command.
pub fn network(wharf: &Wharf, command: NetworkCommand) -> i32 {
    let done = match command {
        NetworkCommand::Ls(args) => wharf.networks().and_then(|networks| {
            let rows: Vec<Row> = networks
                .iter()
                .map(|n| {
                    let id = n.id.clone().unwrap_or_default();
                    Row::from([
                        ("ID", wharf_core::short_id(&id).to_string()),
                        ("Name", n.name.clone().unwrap_or_default()),
                        ("Driver", n.driver.clone().unwrap_or_default()),
                        ("Scope", "local".to_string()),
                        ("Labels", label_text(n.labels.iter().flatten())),
                        ("CreatedAt", n.created.clone().unwrap_or_default()),
                    ])
                })
                .collect();
            print_listing(&NETWORKS, &args, "ID", &rows)
        }),
        NetworkCommand::Create(args) => match &args.name {
            None => return fail("network create needs a name", VERB_FAILED),
            Some(name) => wharf
                .create_network(name, None, labels(&args.labels))
                .map(|n| println!("{}", n.id.unwrap_or_default())),
        },
        NetworkCommand::Inspect(args) => args
            .names
            .iter()
            .map(|n| wharf.network(n))
            .collect::<Result<Vec<_>, _>>()
            .map(|all| print_json(&all)),
        NetworkCommand::Rm(args) => {
            let mut code = 0;
            for name in &args.names {
                match wharf.remove_network(name) {
                    Ok(()) => println!("{name}"),
                    Err(e) => code = fail(e, VERB_FAILED),
                }
            }
            return code;
        }
        NetworkCommand::Connect(args) => {
            wharf.connect_network(&args.network, &args.container, &args.aliases)
        }
        NetworkCommand::Disconnect(args) => {
            wharf.disconnect_network(&args.network, &args.container)
        }
        NetworkCommand::Prune(_) => wharf.prune_networks().map(|removed| {
            if !removed.is_empty() {
                println!("Deleted Networks:");
                removed.iter().for_each(|n| println!("{n}"));
            }
        }),
    };
    match done {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}
