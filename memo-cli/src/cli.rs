//! The command line: global options and the subcommands (whose own
//! arguments live beside their code in `commands/`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::stats::StatsArgs;
use crate::commands::verify::VerifyArgs;
use crate::commands::why::WhyArgs;
use crate::commands::{clear::ClearArgs, du::DuArgs, gc::GcArgs, ls::LsArgs, show::ShowArgs};

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
    pub location: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Never draw a progress bar.
    #[arg(long, global = true, help_heading = "Global options")]
    pub no_progress: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each variant's doc is its `--help`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List cached functions: entries, size, last use, hits, time saved
    ///
    /// One row per function (by identity): its code versions (and how many
    /// are stale), entries, bytes, when it was last used, how often calls
    /// were served from the cache, and the compute time that saved.
    Ls(LsArgs),
    /// Show a function's entries, or everything about one entry
    ///
    /// With FUNC alone: a summary and its entries, most recently used first.
    /// With ENTRY too: the call as written (`f(1, "a")`), output type, code
    /// version and fingerprint, argument digests, sizes, how long it took to
    /// compute, when it was created and last used, and its hits.
    Show(ShowArgs),
    /// Show disk usage per function
    ///
    /// Entry bytes and the space they take on disk, per function (and code
    /// version with --versions), plus usage records and leftover temp files.
    Du(DuArgs),
    /// Show hits, misses, hit rate and time saved per function
    ///
    /// Time saved is each hit times the recorded compute time of the entry
    /// it was served from. With --by-reason, misses are also counted by
    /// their reason, as each entry records it.
    Stats(StatsArgs),
    /// List a function's recent misses with their reasons, and count them
    ///
    /// Every entry records why it was computed: the first call of the
    /// function, new arguments (naming those that differ from the closest
    /// stored call), a code change, an expired or rejected entry, a damaged
    /// one, a refresh. Most recent first.
    Why(WhyArgs),
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
    Clear(ClearArgs),
    /// Check every entry's checksum; remove damaged ones with --repair
    ///
    /// Reads every entry and checks its header, lengths, checksum, key, and
    /// that it sits where its identity and fingerprint say. Damaged entries
    /// are listed and the exit status is 1; --repair removes them (memo
    /// would recompute them on their next call anyway).
    Verify(VerifyArgs),
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
