//! `memo`: inspect and manage a memo cache directory.
//!
//! ```text
//! memo ls                       functions, versions, sizes, last use, hits
//! memo show FUNC [ENTRY]        a function's entries, or one entry's metadata
//! memo du | memo stats          space, and what the cache saved
//! memo why FUNC                 recent misses and their reasons
//! memo gc --bytes-limit 10G     evict least recently used entries
//! memo clear [FUNC] --yes       delete entries
//! memo verify [--repair]        check every entry's checksum
//! ```

mod cli;
mod commands;
mod exit;
mod output;
mod progress;
mod table;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use commands::{Context, clear, du, gc, ls, show, stats, verify, why};
use exit::Failure;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("memo: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let cx = Context::open(cli.location, cli.json, !cli.no_progress)?;
    match &cli.command {
        Command::Ls(args) => ls::run(&cx, args),
        Command::Show(args) => show::run(&cx, args),
        Command::Du(args) => du::run(&cx, args),
        Command::Stats(args) => stats::run(&cx, args),
        Command::Why(args) => why::run(&cx, args),
        Command::Gc(args) => gc::run(&cx, args),
        Command::Clear(args) => clear::run(&cx, args),
        Command::Verify(args) => verify::run(&cx, args),
    }
}
