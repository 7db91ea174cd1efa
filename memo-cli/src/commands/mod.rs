//! The subcommands, one file each: each prints a table (or JSON with
//! `--json`) and returns its exit status. What they share is here: the
//! opened cache ([`Context`]) and the totals over functions.

pub mod clear;
pub mod du;
pub mod gc;
pub mod ls;
pub mod show;
mod show_entry;
pub mod stats;
pub mod verify;
pub mod why;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use memory::manage::{Cache, FunctionStats, OpenError, Scan, Usage, format_ago};
use serde_json::{Value, json};

use crate::exit::{self, Failure};
use crate::output::ms;
use crate::progress::Bar;

/// What every command works with.
pub struct Context {
    /// The cache the command reads or changes.
    pub cache: Cache,
    /// `--json`: print JSON instead of tables.
    pub json: bool,
    /// Progress of walks over the whole cache.
    pub progress: Bar,
    /// "Now", for relative times.
    pub now: SystemTime,
}

impl Context {
    /// Opens the cache at `location` (`None`: the default location).
    pub fn open(location: Option<PathBuf>, json: bool, progress: bool) -> Result<Self, Failure> {
        let given = location.is_some();
        let location =
            location.unwrap_or_else(|| memory::Memory::from_env().location().unwrap().to_owned());
        let cache = Cache::open(&location).map_err(|e| {
            let hint = match e {
                OpenError::Missing(_) if !given => " (set --location or $MEMO_CACHE_DIR)",
                _ => "",
            };
            let code = match e {
                OpenError::Io { .. } => exit::IO,
                _ => exit::NOT_A_CACHE,
            };
            Failure::new(code, format!("{e}{hint}"))
        })?;
        let (cache, now) = match now_override() {
            Some(now) => (cache.with_now(now), now),
            None => (cache, SystemTime::now()),
        };
        Ok(Context {
            cache,
            json,
            progress: Bar::new(progress),
            now,
        })
    }

    fn scan(&self) -> Result<Scan, Failure> {
        self.cache
            .scan(&self.progress)
            .map_err(|e| Failure::io(&format!("cannot read {}", self.cache.root().display()), e))
    }

    fn usage(&self) -> Result<Usage, Failure> {
        self.cache
            .usage()
            .map_err(|e| Failure::io("cannot read the usage records", e))
    }

    /// The usage records, the scanned cache, and per-function statistics.
    fn functions(&self) -> Result<(Usage, Scan, Vec<FunctionStats>), Failure> {
        let usage = self.usage()?;
        let scan = self.scan()?;
        let functions = self.cache.functions(&scan, &usage);
        Ok((usage, scan, functions))
    }

    /// `3 days ago`, or `-` for never.
    fn ago(&self, time: Option<SystemTime>) -> String {
        time.map_or_else(|| "-".to_owned(), |t| format_ago(t, self.now))
    }

    fn location(&self) -> String {
        self.cache.root().display().to_string()
    }
}

/// `MEMO_NOW` (seconds since the Unix epoch) pins "now" for reproducible
/// output: ages, "3 days ago", and `gc --age-limit` are measured from it.
fn now_override() -> Option<SystemTime> {
    let seconds: u64 = std::env::var("MEMO_NOW").ok()?.trim().parse().ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Sums over every function, for the total lines of `ls`, `du` and `stats`.
struct Totals {
    entries: u64,
    bytes: u64,
    disk_bytes: u64,
    hits: u64,
    misses: u64,
    time_saved: Duration,
}

impl Totals {
    fn of(functions: &[FunctionStats]) -> Totals {
        Totals {
            entries: functions.iter().map(|f| f.entries).sum(),
            bytes: functions.iter().map(|f| f.bytes).sum(),
            disk_bytes: functions.iter().map(|f| f.disk_bytes).sum(),
            hits: functions.iter().map(|f| f.hits).sum(),
            misses: functions.iter().map(|f| f.misses).sum(),
            time_saved: functions.iter().map(|f| f.time_saved).sum(),
        }
    }
}

/// A function as JSON: who it is and what it holds, plus `more` fields
/// that differ between commands.
fn function_json_with(f: &FunctionStats, more: Value) -> Value {
    let mut value = json!({
        "identity": f.identity,
        "dir": f.dir,
        "entries": f.entries,
        "bytes": f.bytes,
    });
    if let (Value::Object(value), Value::Object(more)) = (&mut value, more) {
        value.extend(more);
    }
    value
}

/// A function's statistics and versions as JSON (`ls`, `show FUNC`).
fn function_json(f: &FunctionStats) -> Value {
    function_json_with(
        f,
        json!({
            "disk_bytes": f.disk_bytes,
            "last_used_ms": ms(f.last_used),
            "hits": f.hits,
            "misses": f.misses,
            "time_saved_s": f.time_saved.as_secs_f64(),
            "versions": f.versions.iter().map(|v| json!({
                "version": v.version,
                "current": v.current,
                "entries": v.entries,
                "bytes": v.bytes,
                "last_used_ms": ms(v.last_used),
            })).collect::<Vec<_>>(),
        }),
    )
}
