//! `memo clear [FUNC]`: deletes entries, once confirmed.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use serde_json::json;

use super::Context;
use crate::exit::{self, Failure};
use crate::output::{entries, plural, print_json, size, tally_json};

/// `memo clear`'s arguments.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Only this function's entries.
    function: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

/// `memo clear [FUNC]`.
pub fn run(cx: &Context, args: &ClearArgs) -> Result<u8, Failure> {
    let scan = cx.scan()?;
    let (index, what) = match &args.function {
        Some(name) => {
            let f = cx
                .cache
                .find_function(&scan, name)
                .map_err(Failure::not_found)?;
            (Some(f), cx.cache.identity(&scan, f))
        }
        None => (None, "every function".to_owned()),
    };
    if !args.yes {
        let (count, bytes) = cx.cache.function_totals(&scan, index);
        confirm(
            &format!("{} ({}) of {what}", entries(count), size(bytes)),
            cx,
        )?;
    }
    let cleared = cx
        .cache
        .clear(&scan, index, &cx.progress)
        .map_err(|e| Failure::io("cannot clear", e))?;
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "removed": tally_json(&cleared.removed),
            "functions": cleared.functions,
            "failed": cleared.failed,
            "kept": cleared.kept,
        }));
    } else {
        println!(
            "Deleted {} ({}) of {what}.",
            entries(cleared.removed.entries),
            size(cleared.removed.bytes)
        );
        if cleared.kept > 0 {
            println!(
                "Left {} that memo did not create.",
                plural(cleared.kept, "file", "files")
            );
        }
    }
    if cleared.failed > 0 {
        eprintln!("memo: {} could not be removed", entries(cleared.failed));
    }
    Ok(exit::problems_if(cleared.failed > 0))
}

/// Asks on the terminal whether to delete `what`; refuses without one,
/// so a script never deletes by accident.
fn confirm(what: &str, cx: &Context) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::new(
            exit::NOT_CONFIRMED,
            format!(
                "not clearing {what}: confirm with --yes (standard input is not a terminal to ask on)"
            ),
        ));
    }
    eprint!("Delete {what} in {}? [y/N] ", cx.location());
    // The prompt is only a prompt if it is on the screen before we wait.
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = stdin.lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Failure::new(exit::NOT_CONFIRMED, "not cleared"))
    }
}
