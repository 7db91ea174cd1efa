//! `memo show FUNC ENTRY`: everything about one entry.

use std::time::{Duration, SystemTime};

use memory::manage::{Scan, Usage, format_ago, format_duration, format_utc};
use serde_json::json;

use super::Context;
use crate::exit::{self, Failure};
use crate::output::{ms, print_json, print_without_heading, size, version_label};
use crate::table::{Align, Table};

/// Shows entry `e` of the scanned cache.
pub(super) fn run(cx: &Context, scan: &Scan, usage: &Usage, e: usize) -> Result<u8, Failure> {
    let details = cx.cache.entry_details(scan, usage, e);
    let meta = details.meta.as_ref();
    let created = meta.map(|m| SystemTime::UNIX_EPOCH + Duration::from_millis(m.created_ms));
    let duration = meta.and_then(|m| Duration::try_from_secs_f64(m.duration_s).ok());
    if cx.json {
        print_json(&json!({
            "key": format!("{:032x}", details.key),
            "path": details.path,
            "function_dir": details.function_dir,
            "version": details.version,
            "current": details.current,
            "bytes": details.size,
            "meta_bytes": details.meta_len,
            "output_bytes": details.output_len,
            "problem": details.problem,
            "identity": meta.map(|m| &m.identity),
            "call": meta.map(|m| &m.call),
            "fingerprint": meta.map(|m| &m.fingerprint),
            "output_type": meta.map(|m| &m.output_type),
            "args": meta.map(|m| m.args.iter().map(|a| json!({"name": a.name, "digest": a.digest})).collect::<Vec<_>>()),
            "type_args": meta.map(|m| &m.type_args),
            "duration_s": duration.map(|d| d.as_secs_f64()),
            "created_ms": ms(created),
            "last_used_ms": ms(details.usage.map(|u| u.last_used)),
            "hits": details.usage.map_or(0, |u| u.hits),
            "misses": details.usage.map_or(0, |u| u.misses),
        }));
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[("", Align::Left), ("", Align::Left)]);
    let mut row = |k: &str, v: String| table.row(vec![k.to_owned(), v]);
    row("Entry", format!("{:032x}", details.key));
    if let Some(m) = meta {
        row("Function", m.identity.clone());
        row("Call", m.call.clone());
        if !m.type_args.is_empty() {
            row("Type arguments", m.type_args.join(", "));
        }
        row("Output type", m.output_type.clone());
    }
    row(
        "Code version",
        version_label(&details.version, details.current),
    );
    if let Some(m) = meta {
        row("Fingerprint", m.fingerprint.clone());
        for arg in &m.args {
            row("Argument", format!("{} = {}", arg.name, arg.digest));
        }
    }
    row(
        "Size",
        if details.problem.is_none() {
            format!(
                "{} (metadata {}, output {})",
                size(details.size),
                size(details.meta_len),
                size(details.output_len)
            )
        } else {
            size(details.size)
        },
    );
    if let Some(d) = duration {
        row("Computed in", format_duration(d));
    }
    let when = |time: SystemTime| format!("{} ({})", format_utc(time), format_ago(time, cx.now));
    if let Some(c) = created {
        row("Created", when(c));
    }
    match details.usage {
        Some(u) => {
            row("Last used", when(u.last_used));
            row("Hits", u.hits.to_string());
        }
        None => row("Last used", "no record".into()),
    }
    row("Path", details.path.clone());
    if let Some(problem) = &details.problem {
        row(
            "Problem",
            format!("{problem} (memo recomputes it; `memo verify --repair` removes it)"),
        );
    }
    print_without_heading(&table);
    Ok(exit::OK)
}
