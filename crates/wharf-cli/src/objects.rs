//! `wharf volume ...` and `wharf network ...`: named volumes and user networks, the same
//! objects `docker volume` and `docker network` see through the API service.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use wharf_core::Wharf;

use crate::containers::VERB_FAILED;
use crate::fail;

/// `wharf volume ...`.
#[derive(Debug, Subcommand)]
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

/// `ls [-q]`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only names (volumes) or IDs (networks).
    #[arg(short, long)]
    quiet: bool,
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
        VolumeCommand::Ls(args) => wharf.volumes().map(|volumes| {
            if !args.quiet {
                println!("{:<16}VOLUME NAME", "DRIVER");
            }
            for v in volumes {
                match args.quiet {
                    true => println!("{}", v.name),
                    false => println!("{:<16}{}", v.driver, v.name),
                }
            }
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
        VolumeCommand::Prune(args) => wharf.prune_volumes(args.all).map(|(removed, _)| {
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                removed.iter().for_each(|n| println!("{n}"));
            }
            println!("\nTotal reclaimed space: 0B");
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
        NetworkCommand::Ls(args) => wharf.networks().map(|networks| {
            if !args.quiet {
                println!("{:<14}{:<20}{:<10}SCOPE", "NETWORK ID", "NAME", "DRIVER");
            }
            for n in networks {
                let id = n.id.clone().unwrap_or_default();
                let short = wharf_core::short_id(&id);
                match args.quiet {
                    true => println!("{short}"),
                    false => println!(
                        "{short:<14}{:<20}{:<10}local",
                        n.name.unwrap_or_default(),
                        n.driver.unwrap_or_default()
                    ),
                }
            }
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
