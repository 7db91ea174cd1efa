//! How every command writes values: sizes, durations, times, counted
//! nouns, JSON, and the two-column tables of `show`, `gc`.

use std::time::{Duration, SystemTime};

use memory::manage::{ByteSize, Tally, format_duration};
use serde_json::{Value, json};

use crate::table::Table;

/// A byte count as people read it: `1.5 KiB`.
pub fn size(bytes: u64) -> String {
    ByteSize(bytes).to_string()
}

/// A duration for a table cell: `-` for none.
pub fn took(duration: Duration) -> String {
    if duration.is_zero() {
        "-".to_owned()
    } else {
        format_duration(duration)
    }
}

/// An age limit as people say it: `30 days`, `12 hours`, `15 minutes`.
pub fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    if secs > 0 && age.subsec_nanos() == 0 {
        if secs.is_multiple_of(604_800) && secs >= 2 * 604_800 {
            return plural(secs / 604_800, "week", "weeks");
        }
        if secs.is_multiple_of(86_400) {
            return plural(secs / 86_400, "day", "days");
        }
        if secs.is_multiple_of(3600) {
            return plural(secs / 3600, "hour", "hours");
        }
        if secs.is_multiple_of(60) {
            return plural(secs / 60, "minute", "minutes");
        }
    }
    format_duration(age)
}

/// `1 entry`, `2 entries`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `n` entries, counted in words.
pub fn entries(n: u64) -> String {
    plural(n, "entry", "entries")
}

/// A code version in a listing: `aaaa000000000002 (current)`.
pub fn version_label(version: &str, current: bool) -> String {
    format!(
        "{version}{}",
        if current { " (current)" } else { " (stale)" }
    )
}

/// At most `max` characters of `text`, an ellipsis marking a cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// A time as JSON: milliseconds since the Unix epoch, or `null`.
pub fn ms(time: Option<SystemTime>) -> Value {
    time.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(Value::Null, |d| json!(d.as_millis() as u64))
}

/// A count of entries and their bytes, as JSON.
pub fn tally_json(t: &Tally) -> Value {
    json!({"entries": t.entries, "bytes": t.bytes})
}

/// Prints `value` on stdout, indented.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

/// Prints a table whose headings are blank, without its heading row: the
/// label-and-value blocks of `show` and the reasons of `gc`.
pub fn print_without_heading(table: &Table) {
    for line in table.render().lines().skip(1) {
        println!("{line}");
    }
}
