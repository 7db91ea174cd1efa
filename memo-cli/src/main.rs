//! `memo`: inspect and manage a memo cache directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memory::entry::Entry;

/// Inspect and manage a memo cache directory.
#[derive(Debug, Parser)]
#[command(name = "memo", version, about)]
struct Cli {
    /// The cache directory [default: $MEMO_CACHE_DIR, else ./.memo_cache]
    #[arg(long, short = 'l', global = true)]
    location: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the cached functions: code versions, entries and bytes.
    Ls,
}

/// What `ls` shows for one function.
#[derive(Debug, Default)]
struct FunctionSummary {
    versions: std::collections::BTreeSet<String>,
    entries: u64,
    bytes: u64,
    corrupt: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let location = cli
        .location
        .unwrap_or_else(|| memory::Memory::from_env().location().unwrap().to_owned());
    if !location.is_dir() {
        eprintln!(
            "memo: {} is not a cache directory (it does not exist)",
            location.display()
        );
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Ls => match summarize(&location) {
            Ok(functions) => {
                print_table(&functions);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("memo: cannot read {}: {e}", location.display());
                ExitCode::from(2)
            }
        },
    }
}

/// Reads every entry below `location`, grouped by function identity.
fn summarize(location: &Path) -> std::io::Result<BTreeMap<String, FunctionSummary>> {
    let mut functions: BTreeMap<String, FunctionSummary> = BTreeMap::new();
    for function_dir in subdirectories(location)? {
        for version_dir in subdirectories(&function_dir)? {
            for file in std::fs::read_dir(&version_dir)? {
                let path = file?.path();
                if path.extension().is_none_or(|e| e != "memo") || is_hidden(&path) {
                    continue;
                }
                let bytes = std::fs::read(&path)?;
                let fallback = function_dir
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let meta = Entry::parse(&bytes, None)
                    .ok()
                    .and_then(|entry| entry.meta().ok());
                let summary = functions
                    .entry(meta.as_ref().map_or(fallback, |m| m.identity.clone()))
                    .or_default();
                summary.versions.insert(
                    version_dir
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
                summary.entries += 1;
                summary.bytes += bytes.len() as u64;
                summary.corrupt += u64::from(meta.is_none());
            }
        }
    }
    Ok(functions)
}

fn subdirectories(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for child in std::fs::read_dir(dir)? {
        let child = child?;
        if child.file_type()?.is_dir() && !is_hidden(&child.path()) {
            found.push(child.path());
        }
    }
    found.sort();
    Ok(found)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn print_table(functions: &BTreeMap<String, FunctionSummary>) {
    println!(
        "{:<50} {:>8} {:>8} {:>12}",
        "FUNCTION", "VERSIONS", "ENTRIES", "BYTES"
    );
    for (identity, summary) in functions {
        let corrupt = if summary.corrupt > 0 {
            format!(" ({} corrupt)", summary.corrupt)
        } else {
            String::new()
        };
        println!(
            "{identity:<50} {:>8} {:>8} {:>12}{corrupt}",
            summary.versions.len(),
            summary.entries,
            summary.bytes
        );
    }
}
