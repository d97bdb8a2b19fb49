//! `wharf cp`, `wharf top` and `wharf attach`: what is inside a container, and its stdio.

use std::path::Path;

use clap::Args;
use wharf_core::Wharf;

use crate::containers::VERB_FAILED;
use crate::fail;
use crate::format::{self, Column, Listing, Row};

/// `wharf cp CONTAINER:PATH DEST` or `wharf cp SRC CONTAINER:PATH`
#[derive(Debug, Args)]
pub struct CpArgs {
    /// CONTAINER:PATH or a host path.
    source: String,
    /// A host path or CONTAINER:PATH.
    destination: String,
}

/// `CONTAINER:/path` split, when `text` names a container path (a host path with a colon is
/// written `./a:b`, as with Docker).
fn container_path(text: &str) -> Option<(&str, &str)> {
    if text.starts_with('/') || text.starts_with('.') {
        return None;
    }
    text.split_once(':').filter(|(c, _)| !c.is_empty())
}

/// Copies between a container's filesystem and the host.
pub fn cp(wharf: &Wharf, args: CpArgs) -> i32 {
    let copied = match (
        container_path(&args.source),
        container_path(&args.destination),
    ) {
        (Some((container, path)), None) => {
            wharf.copy_from_container(container, path, Path::new(&args.destination))
        }
        (None, Some((container, path))) => {
            wharf.copy_to_container(Path::new(&args.source), container, path)
        }
        (Some(_), Some(_)) => {
            return fail(
                "copying between containers is not supported: copy through the host",
                VERB_FAILED,
            )
        }
        (None, None) => return fail("one side of cp must be CONTAINER:PATH", VERB_FAILED),
    };
    match copied {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// `wharf top CONTAINER`
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container.
    container: String,
}

/// Prints the container's process (its monitor, running the guest).
pub fn top(wharf: &Wharf, args: TopArgs) -> i32 {
    let top = match wharf.container_top(&args.container) {
        Ok(top) => top,
        Err(e) => return fail(e, VERB_FAILED),
    };
    // The core's rows are PID, STARTED, CMD, as its titles say.
    let rows: Vec<Row> = top
        .processes
        .unwrap_or_default()
        .into_iter()
        .map(|cells| TOP.columns.iter().map(|c| c.field).zip(cells).collect())
        .collect();
    match format::print_rows(&TOP, None, &rows) {
        Ok(()) => 0,
        Err(e) => fail(e, VERB_FAILED),
    }
}

/// `top`'s table: the titles `container_top` gives.
const TOP: Listing = Listing {
    columns: &[
        Column {
            field: "PID",
            header: "PID",
        },
        Column {
            field: "STARTED",
            header: "STARTED",
        },
        Column {
            field: "CMD",
            header: "CMD",
        },
    ],
    default: "table {{.PID}}\t{{.STARTED}}\t{{.CMD}}",
};

/// `wharf attach [--no-stdin] CONTAINER`
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not pass this terminal's input to the container (it gets input only when created
    /// with -i).
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// The container.
    container: String,
}

/// Follows a running container's output from now on (and feeds it stdin when it was created
/// with `-i`) until it ends; exits with its code.
pub fn attach(wharf: &Wharf, args: AttachArgs) -> i32 {
    let container = match wharf.container(&args.container) {
        Ok((container, _)) => container,
        Err(e) => return fail(e, VERB_FAILED),
    };
    if !container.state.status.is_live() {
        return fail(
            "You cannot attach to a stopped container, start it first",
            VERB_FAILED,
        );
    }
    let id = container.config.id.clone();
    let log = match crate::containers::new_output(wharf, &id) {
        Ok(log) => log,
        Err(e) => return fail(e, VERB_FAILED),
    };
    if !args.no_stdin {
        match wharf.container_stdin(&id) {
            Ok(Some(mut input)) => {
                let root = wharf.root().clone();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut input);
                    if let Ok(wharf) = Wharf::open(root) {
                        input.finish(&wharf);
                    }
                });
            }
            Ok(None) => {}
            Err(e) => return fail(e, VERB_FAILED),
        }
    }
    crate::containers::attach(wharf, &id, log)
}
