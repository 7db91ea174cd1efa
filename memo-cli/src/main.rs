//! `memo`: inspect and manage a memo cache directory.
//!
//! ```text
//! memo ls                       functions, versions, sizes, last use, hits
//! memo show FUNC [ENTRY]        a function's entries, or one entry's metadata
//! memo du | memo stats          space, and what the cache saved
//! memo gc --bytes-limit 10G     evict least recently used entries
//! memo clear [FUNC] --yes       delete entries
//! memo verify [--repair]        check every entry's checksum
//! ```

mod commands;
mod progress;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use memory::manage::{ByteSize, Cache, OpenError};

/// Exit codes, as documented in `memo --help`.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// `verify` found damaged entries (and did not remove them all), or
    /// some entries could not be removed.
    pub const PROBLEMS: u8 = 1;
    /// The command line is wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// The location is missing, or not a memo cache.
    pub const NOT_A_CACHE: u8 = 3;
    /// No function or entry matches (or several do).
    pub const NOT_FOUND: u8 = 4;
    /// `clear` was not confirmed.
    pub const NOT_CONFIRMED: u8 = 5;
    /// Reading or changing the cache failed.
    pub const IO: u8 = 6;
}

const AFTER_HELP: &str = "\
The cache directory is --location, else $MEMO_CACHE_DIR, else ./.memo_cache.
Sizes are written like 500M, 10G or 1.5GiB (K, M, G, T are powers of 1024;
KB, MB, GB, TB powers of 1000); ages like 90s, 15min, 12h, 30d or 2w.

Exit status:
  0  success
  1  problems found: `verify` found damaged entries, or entries could not be removed
  2  invalid command line
  3  the location does not exist or is not a memo cache
  4  no function or entry matches (or several do)
  5  `clear` was not confirmed (it asks on a terminal; pass --yes otherwise)
  6  reading or changing the cache failed";

/// Inspect and manage a memo cache directory: what is cached, what it
/// saved, and what to remove.
#[derive(Debug, Parser)]
#[command(name = "memo", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// The cache: a directory, or s3://bucket/prefix [default: $MEMO_CACHE_DIR, else ./.memo_cache]
    #[arg(
        long,
        short = 'l',
        global = true,
        value_name = "LOCATION",
        help_heading = "Global options"
    )]
    location: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    /// Never draw a progress bar.
    #[arg(long, global = true, help_heading = "Global options")]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List cached functions: entries, size, last use, hits, time saved
    ///
    /// One row per function (by identity): its code versions (and how many
    /// are stale), entries, bytes, when it was last used, how often calls
    /// were served from the cache, and the compute time that saved.
    Ls {
        /// Also list each code version of every function.
        #[arg(long, short = 'v')]
        versions: bool,
    },
    /// Show a function's entries, or everything about one entry
    ///
    /// With FUNC alone: a summary and its entries, most recently used first.
    /// With ENTRY too: the call as written (`f(1, "a")`), output type, code
    /// version and fingerprint, argument digests, sizes, how long it took to
    /// compute, when it was created and last used, and its hits.
    Show {
        /// The function: its identity (`my_crate::module::f`), directory
        /// name, or a unique last part (`f`, `module::f`).
        function: String,
        /// An entry: the first hex digits of its key, as `memo show FUNC`
        /// lists them.
        entry: Option<String>,
        /// List at most this many entries.
        #[arg(long, default_value_t = 20, conflicts_with = "all")]
        limit: usize,
        /// List every entry.
        #[arg(long)]
        all: bool,
    },
    /// Show disk usage per function
    ///
    /// Entry bytes and the space they take on disk, per function (and code
    /// version with --versions), plus usage records and leftover temp files.
    Du {
        /// Also show each code version.
        #[arg(long, short = 'v')]
        versions: bool,
    },
    /// Show hits, misses, hit rate and time saved per function
    ///
    /// Time saved is each hit times the recorded compute time of the entry
    /// it was served from.
    Stats,
    /// Remove entries over size, count or age limits, and stale versions
    ///
    /// In this order: with --stale, every code version of a function but its
    /// current one; entries unused for longer than --age-limit; then least
    /// recently used entries until --bytes-limit and --items-limit hold.
    /// Last use is memo's own record, not the file's access time. Leftover
    /// temp files older than an hour go too.
    Gc(GcArgs),
    /// Delete every entry, or a function's
    ///
    /// Asks for confirmation on a terminal; elsewhere (scripts, pipes) it
    /// refuses unless --yes is given.
    Clear {
        /// Only this function's entries.
        function: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Check every entry's checksum; remove damaged ones with --repair
    ///
    /// Reads every entry and checks its header, lengths, checksum, key, and
    /// that it sits where its identity and fingerprint say. Damaged entries
    /// are listed and the exit status is 1; --repair removes them (memo
    /// would recompute them on their next call anyway).
    Verify {
        /// Remove damaged entries (they are recomputed on their next call).
        #[arg(long)]
        repair: bool,
    },
}

/// `memo gc`'s limits.
#[derive(Debug, Args)]
struct GcArgs {
    /// Keep at most this many bytes (e.g. 10G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bytes_limit: Option<ByteSize>,
    /// Keep at most this many entries.
    #[arg(long, value_name = "N")]
    items_limit: Option<u64>,
    /// Remove entries unused for longer than this (e.g. 30d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    age_limit: Option<Duration>,
    /// Remove every code version of a function but the current one.
    #[arg(long)]
    stale: bool,
    /// Only show what would be removed.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

fn parse_size(text: &str) -> Result<ByteSize, String> {
    text.parse()
        .map_err(|e: memory::manage::ParseError| e.to_string())
}

fn parse_age(text: &str) -> Result<Duration, String> {
    memory::manage::parse_age(text).map_err(|e| e.to_string())
}

/// A failure with its exit status.
pub struct Failure {
    /// The exit status (see [`exit`]).
    pub code: u8,
    /// What to print after `memo: `.
    pub message: String,
}

impl Failure {
    /// A failure with exit status `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// An I/O failure while doing `what`.
    pub fn io(what: &str, error: std::io::Error) -> Failure {
        Failure::new(exit::IO, format!("{what}: {error}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("memo: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let location = cli
        .location
        .clone()
        .unwrap_or_else(|| memory::Memory::from_env().location().unwrap().to_owned());
    let cache = Cache::open(&location).map_err(|e| {
        let hint = match e {
            OpenError::Missing(_) if cli.location.is_none() => {
                " (set --location or $MEMO_CACHE_DIR)"
            }
            _ => "",
        };
        let code = match e {
            OpenError::Io { .. } => exit::IO,
            _ => exit::NOT_A_CACHE,
        };
        Failure::new(code, format!("{e}{hint}"))
    })?;
    let cache = match now_override() {
        Some(now) => cache.with_now(now),
        None => cache,
    };
    let context = commands::Context {
        cache,
        json: cli.json,
        progress: progress::Bar::new(!cli.no_progress),
        now: now_override().unwrap_or_else(SystemTime::now),
    };
    match cli.command {
        Command::Ls { versions } => commands::ls(&context, versions),
        Command::Show {
            function,
            entry,
            limit,
            all,
        } => commands::show(
            &context,
            &function,
            entry.as_deref(),
            if all { usize::MAX } else { limit },
        ),
        Command::Du { versions } => commands::du(&context, versions),
        Command::Stats => commands::stats(&context),
        Command::Gc(args) => {
            let mut limits = memory::manage::Limits::new().stale(args.stale);
            limits.bytes = args.bytes_limit;
            limits.items = args.items_limit;
            limits.age = args.age_limit;
            if limits.is_empty() {
                return Err(Failure::new(
                    exit::USAGE,
                    "nothing to collect: give --bytes-limit, --items-limit, --age-limit or --stale",
                ));
            }
            commands::gc(&context, &limits, args.dry_run)
        }
        Command::Clear { function, yes } => commands::clear(&context, function.as_deref(), yes),
        Command::Verify { repair } => commands::verify(&context, repair),
    }
}

/// `MEMO_NOW` (seconds since the Unix epoch) pins "now" for reproducible
/// output: ages, "3 days ago", and `gc --age-limit` are measured from it.
fn now_override() -> Option<SystemTime> {
    let seconds: u64 = std::env::var("MEMO_NOW").ok()?.trim().parse().ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
