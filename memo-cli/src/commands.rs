//! The subcommands: each prints a table (or JSON with `--json`) and returns
//! its exit status.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, SystemTime};

use memory::manage::{
    ByteSize, Cache, FindError, FunctionStats, Limits, ReduceOptions, Reduced, Scan, Tally, Usage,
    format_ago, format_duration, format_utc,
};
use serde_json::{Value, json};

use crate::progress::Bar;
use crate::table::{Align, Table};
use crate::{Failure, exit};

/// What every command works with.
pub struct Context {
    pub cache: Cache,
    pub json: bool,
    pub progress: Bar,
    /// "Now", for relative times.
    pub now: SystemTime,
}

impl Context {
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

    fn ago(&self, time: Option<SystemTime>) -> String {
        time.map_or_else(|| "-".to_owned(), |t| format_ago(t, self.now))
    }

    fn location(&self) -> String {
        self.cache.root().display().to_string()
    }
}

/// An age limit as people say it: `30 days`, `12 hours`, `15 minutes`.
fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    let unit = |n: u64, one: &str, many: &str| plural(n, one, many);
    if secs > 0 && age.subsec_nanos() == 0 {
        if secs.is_multiple_of(604_800) && secs >= 2 * 604_800 {
            return unit(secs / 604_800, "week", "weeks");
        }
        if secs.is_multiple_of(86_400) {
            return unit(secs / 86_400, "day", "days");
        }
        if secs.is_multiple_of(3600) {
            return unit(secs / 3600, "hour", "hours");
        }
        if secs.is_multiple_of(60) {
            return unit(secs / 60, "minute", "minutes");
        }
    }
    format_duration(age)
}

/// A duration for a table cell: `-` for none.
fn took(duration: Duration) -> String {
    if duration.is_zero() {
        "-".to_owned()
    } else {
        format_duration(duration)
    }
}

fn size(bytes: u64) -> String {
    ByteSize(bytes).to_string()
}

fn ms(time: Option<SystemTime>) -> Value {
    time.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(Value::Null, |d| json!(d.as_millis() as u64))
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn entries(n: u64) -> String {
    plural(n, "entry", "entries")
}

fn not_found(error: FindError) -> Failure {
    Failure::new(exit::NOT_FOUND, error.to_string())
}

fn function_json(f: &FunctionStats) -> Value {
    json!({
        "identity": f.identity,
        "dir": f.dir,
        "entries": f.entries,
        "bytes": f.bytes,
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
    })
}

/// `memo ls`.
pub fn ls(cx: &Context, versions: bool) -> Result<u8, Failure> {
    let usage = cx.usage()?;
    let scan = cx.scan()?;
    let functions = cx.cache.functions(&scan, &usage);
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "functions": functions.iter().map(function_json).collect::<Vec<_>>(),
        }));
        return Ok(exit::OK);
    }
    if functions.is_empty() {
        println!("No cached functions in {}.", cx.location());
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        ("FUNCTION", Align::Left),
        ("VERSIONS", Align::Right),
        ("ENTRIES", Align::Right),
        ("SIZE", Align::Right),
        ("LAST USED", Align::Right),
        ("HITS", Align::Right),
        ("SAVED", Align::Right),
    ]);
    for f in &functions {
        let stale = f.stale_versions();
        table.row(vec![
            f.identity.clone(),
            if stale > 0 {
                format!("{} ({stale} stale)", f.versions.len())
            } else {
                f.versions.len().to_string()
            },
            f.entries.to_string(),
            size(f.bytes),
            cx.ago(f.last_used),
            f.hits.to_string(),
            took(f.time_saved),
        ]);
        if versions {
            for v in &f.versions {
                table.row(vec![
                    format!(
                        "  {}{}",
                        v.version,
                        if v.current { " (current)" } else { " (stale)" }
                    ),
                    String::new(),
                    v.entries.to_string(),
                    size(v.bytes),
                    cx.ago(v.last_used),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    print!("{}", table.render());
    let total: u64 = functions.iter().map(|f| f.entries).sum();
    let bytes: u64 = functions.iter().map(|f| f.bytes).sum();
    println!(
        "{}, {}, {} in {}",
        plural(functions.len() as u64, "function", "functions"),
        entries(total),
        size(bytes),
        cx.location()
    );
    Ok(exit::OK)
}

/// `memo show FUNC [ENTRY]`.
pub fn show(
    cx: &Context,
    function: &str,
    entry: Option<&str>,
    limit: usize,
) -> Result<u8, Failure> {
    let usage = cx.usage()?;
    let scan = cx.scan()?;
    let f = cx.cache.find_function(&scan, function).map_err(not_found)?;
    match entry {
        Some(prefix) => {
            let e = cx.cache.find_entry(&scan, f, prefix).map_err(not_found)?;
            show_entry(cx, &scan, &usage, e)
        }
        None => show_function(cx, &scan, &usage, f, limit),
    }
}

fn show_function(
    cx: &Context,
    scan: &Scan,
    usage: &Usage,
    f: usize,
    limit: usize,
) -> Result<u8, Failure> {
    let stats = cx.cache.functions(scan, usage);
    let dir = cx.cache.function_dir(scan, f);
    let stats = stats
        .into_iter()
        .find(|s| s.dir == dir)
        .expect("every scanned function has statistics");
    let rows = cx.cache.entries(scan, usage, f, limit);
    if cx.json {
        let mut value = function_json(&stats);
        value["entry_list"] = rows
            .iter()
            .map(|r| {
                json!({
                    "key": format!("{:032x}", r.key),
                    "version": r.version,
                    "call": r.call,
                    "bytes": r.size,
                    "created_ms": ms(Some(r.created)),
                    "last_used_ms": ms(Some(r.last_used)),
                    "hits": r.hits,
                    "duration_s": r.duration.map(|d| d.as_secs_f64()),
                })
            })
            .collect();
        print_json(&value);
        return Ok(exit::OK);
    }
    let current = stats
        .versions
        .iter()
        .find(|v| v.current)
        .map(|v| v.version.clone());
    let mut header = Table::new(&[("", Align::Left), ("", Align::Left)]);
    header.row(vec!["Function".into(), stats.identity.clone()]);
    header.row(vec!["Directory".into(), stats.dir.clone()]);
    header.row(vec![
        "Versions".into(),
        match (&current, stats.stale_versions()) {
            (Some(c), 0) => format!("{} (current {c})", stats.versions.len()),
            (Some(c), stale) => format!("{} (current {c}, {stale} stale)", stats.versions.len()),
            (None, _) => stats.versions.len().to_string(),
        },
    ]);
    header.row(vec![
        "Entries".into(),
        format!("{} ({})", stats.entries, size(stats.bytes)),
    ]);
    header.row(vec!["Last used".into(), cx.ago(stats.last_used)]);
    header.row(vec![
        "Calls".into(),
        format!(
            "{} hits, {} misses{}",
            stats.hits,
            stats.misses,
            stats
                .hit_rate()
                .map(|r| format!(" ({:.0}% hit rate)", r * 100.0))
                .unwrap_or_default()
        ),
    ]);
    header.row(vec!["Time saved".into(), format_duration(stats.time_saved)]);
    // The heading row of this two-column table is blank: skip it.
    for line in header.render().lines().skip(1) {
        println!("{line}");
    }
    if rows.is_empty() {
        return Ok(exit::OK);
    }
    println!();
    let mut table = Table::new(&[
        ("ENTRY", Align::Left),
        ("CALL", Align::Left),
        ("SIZE", Align::Right),
        ("COMPUTED IN", Align::Right),
        ("CREATED", Align::Right),
        ("LAST USED", Align::Right),
        ("HITS", Align::Right),
    ]);
    for row in &rows {
        let stale = current.as_ref().is_some_and(|c| *c != row.version);
        table.row(vec![
            format!("{:012x}", row.key >> 80),
            format!(
                "{}{}",
                row.call
                    .as_deref()
                    .map_or("?".to_owned(), |c| truncate(c, 60)),
                if stale { " (stale)" } else { "" }
            ),
            size(row.size),
            row.duration.map_or("?".to_owned(), format_duration),
            cx.ago(Some(row.created)),
            cx.ago(Some(row.last_used)),
            row.hits.to_string(),
        ]);
    }
    print!("{}", table.render());
    if (rows.len() as u64) < stats.entries {
        let more = stats.entries - rows.len() as u64;
        println!(
            "… and {more} more {} (--all lists them)",
            if more == 1 { "entry" } else { "entries" }
        );
    }
    Ok(exit::OK)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn show_entry(cx: &Context, scan: &Scan, usage: &Usage, e: usize) -> Result<u8, Failure> {
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
        format!(
            "{}{}",
            details.version,
            if details.current {
                " (current)"
            } else {
                " (stale)"
            }
        ),
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
    if let Some(c) = created {
        row(
            "Created",
            format!("{} ({})", format_utc(c), format_ago(c, cx.now)),
        );
    }
    match details.usage {
        Some(u) => {
            row(
                "Last used",
                format!(
                    "{} ({})",
                    format_utc(u.last_used),
                    format_ago(u.last_used, cx.now)
                ),
            );
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
    for line in table.render().lines().skip(1) {
        println!("{line}");
    }
    Ok(exit::OK)
}

/// `memo du`.
pub fn du(cx: &Context, versions: bool) -> Result<u8, Failure> {
    let usage = cx.usage()?;
    let scan = cx.scan()?;
    let functions = cx.cache.functions(&scan, &usage);
    let records = cx.cache.usage_bytes();
    let temps = cx.cache.temp_files(&scan);
    let bytes: u64 = functions.iter().map(|f| f.bytes).sum();
    let disk: u64 = functions.iter().map(|f| f.disk_bytes).sum();
    let count: u64 = functions.iter().map(|f| f.entries).sum();
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "functions": functions.iter().map(|f| json!({
                "identity": f.identity,
                "dir": f.dir,
                "entries": f.entries,
                "bytes": f.bytes,
                "disk_bytes": f.disk_bytes,
                "versions": f.versions.iter().map(|v| json!({
                    "version": v.version, "current": v.current, "entries": v.entries, "bytes": v.bytes,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "usage_record_bytes": records,
            "temp_files": {"count": temps.entries, "bytes": temps.bytes},
            "total": {"entries": count, "bytes": bytes + records + temps.bytes, "entry_bytes": bytes, "disk_bytes": disk},
        }));
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        ("SIZE", Align::Right),
        ("ON DISK", Align::Right),
        ("ENTRIES", Align::Right),
        ("FUNCTION", Align::Left),
    ]);
    for f in &functions {
        table.row(vec![
            size(f.bytes),
            size(f.disk_bytes),
            f.entries.to_string(),
            f.identity.clone(),
        ]);
        if versions {
            for v in &f.versions {
                table.row(vec![
                    size(v.bytes),
                    String::new(),
                    v.entries.to_string(),
                    format!(
                        "  {}{}",
                        v.version,
                        if v.current { " (current)" } else { " (stale)" }
                    ),
                ]);
            }
        }
    }
    table.row(vec![
        size(records),
        String::new(),
        String::new(),
        "(usage records)".into(),
    ]);
    if temps.entries > 0 {
        table.row(vec![
            size(temps.bytes),
            String::new(),
            temps.entries.to_string(),
            "(leftover temp files: `memo gc` removes them)".into(),
        ]);
    }
    table.row(vec![
        size(bytes + records + temps.bytes),
        size(disk),
        count.to_string(),
        format!("total in {}", cx.location()),
    ]);
    print!("{}", table.render());
    Ok(exit::OK)
}

/// `memo stats`.
pub fn stats(cx: &Context) -> Result<u8, Failure> {
    let usage = cx.usage()?;
    let scan = cx.scan()?;
    let functions = cx.cache.functions(&scan, &usage);
    let hits: u64 = functions.iter().map(|f| f.hits).sum();
    let misses: u64 = functions.iter().map(|f| f.misses).sum();
    let saved: Duration = functions.iter().map(|f| f.time_saved).sum();
    let count: u64 = functions.iter().map(|f| f.entries).sum();
    let bytes: u64 = functions.iter().map(|f| f.bytes).sum();
    let rate = |hits: u64, misses: u64| {
        if hits + misses == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", 100.0 * hits as f64 / (hits + misses) as f64)
        }
    };
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "functions": functions.iter().map(|f| json!({
                "identity": f.identity,
                "dir": f.dir,
                "entries": f.entries,
                "bytes": f.bytes,
                "hits": f.hits,
                "misses": f.misses,
                "hit_rate": f.hit_rate(),
                "time_saved_s": f.time_saved.as_secs_f64(),
            })).collect::<Vec<_>>(),
            "total": {
                "entries": count, "bytes": bytes, "hits": hits, "misses": misses,
                "hit_rate": (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
                "time_saved_s": saved.as_secs_f64(),
            },
        }));
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        ("FUNCTION", Align::Left),
        ("ENTRIES", Align::Right),
        ("SIZE", Align::Right),
        ("HITS", Align::Right),
        ("MISSES", Align::Right),
        ("HIT RATE", Align::Right),
        ("TIME SAVED", Align::Right),
    ]);
    for f in &functions {
        table.row(vec![
            f.identity.clone(),
            f.entries.to_string(),
            size(f.bytes),
            f.hits.to_string(),
            f.misses.to_string(),
            rate(f.hits, f.misses),
            took(f.time_saved),
        ]);
    }
    table.row(vec![
        "total".into(),
        count.to_string(),
        size(bytes),
        hits.to_string(),
        misses.to_string(),
        rate(hits, misses),
        took(saved),
    ]);
    print!("{}", table.render());
    Ok(exit::OK)
}

fn tally_json(t: &Tally) -> Value {
    json!({"entries": t.entries, "bytes": t.bytes})
}

/// `memo gc`.
pub fn gc(cx: &Context, limits: &Limits, dry_run: bool) -> Result<u8, Failure> {
    let report: Reduced = cx
        .cache
        .reduce(
            limits,
            &ReduceOptions::default().dry_run(dry_run),
            &cx.progress,
        )
        .map_err(|e| Failure::io("cannot collect", e))?;
    let code = if report.failed > 0 {
        exit::PROBLEMS
    } else {
        exit::OK
    };
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "dry_run": report.dry_run,
            "before": tally_json(&report.before),
            "removed": tally_json(&report.removed),
            "stale": tally_json(&report.stale),
            "expired": tally_json(&report.expired),
            "evicted": tally_json(&report.evicted),
            "after": tally_json(&report.after),
            "temp_files": tally_json(&report.temp_files),
            "failed": report.failed,
            "functions": report.functions.iter().map(|f| json!({
                "dir": f.dir,
                "identity": f.identity,
                "removed": tally_json(&f.removed),
                "stale_versions": f.versions,
            })).collect::<Vec<_>>(),
        }));
        return Ok(code);
    }
    let verb = if dry_run { "Would remove" } else { "Removed" };
    println!(
        "{verb} {} ({}) of {} ({}); {} ({}) {}.",
        entries(report.removed.entries),
        size(report.removed.bytes),
        report.before.entries,
        size(report.before.bytes),
        entries(report.after.entries),
        size(report.after.bytes),
        if dry_run { "would remain" } else { "remain" },
    );
    let mut reasons = Table::new(&[("", Align::Left), ("", Align::Right), ("", Align::Right)]);
    let mut reason = |label: String, t: &Tally| {
        if t.entries > 0 {
            reasons.row(vec![
                format!("  {label}"),
                entries(t.entries),
                size(t.bytes),
            ]);
        }
    };
    reason("stale code versions".into(), &report.stale);
    if let Some(age) = limits.age {
        reason(
            format!("unused for over {}", human_age(age)),
            &report.expired,
        );
    }
    reason(
        "least recently used, over the limits".into(),
        &report.evicted,
    );
    reason("leftover temp files".into(), &report.temp_files);
    for line in reasons.render().lines().skip(1) {
        println!("{line}");
    }
    if !report.functions.is_empty() {
        println!();
        let mut table = Table::new(&[
            ("FUNCTION", Align::Left),
            ("REMOVED", Align::Right),
            ("SIZE", Align::Right),
            ("STALE VERSIONS", Align::Left),
        ]);
        for f in &report.functions {
            table.row(vec![
                f.identity.clone().unwrap_or_else(|| f.dir.clone()),
                f.removed.entries.to_string(),
                size(f.removed.bytes),
                f.versions.join(" "),
            ]);
        }
        print!("{}", table.render());
    }
    if report.failed > 0 {
        eprintln!("memo: {} could not be removed", entries(report.failed));
    }
    Ok(code)
}

/// `memo clear [FUNC]`.
pub fn clear(cx: &Context, function: Option<&str>, yes: bool) -> Result<u8, Failure> {
    let scan = cx.scan()?;
    let (index, what) = match function {
        Some(name) => {
            let f = cx.cache.find_function(&scan, name).map_err(not_found)?;
            (Some(f), cx.cache.identity(&scan, f))
        }
        None => (None, "every function".to_owned()),
    };
    let (count, bytes) = cx.cache.function_totals(&scan, index);
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Failure::new(
                exit::NOT_CONFIRMED,
                format!(
                    "not clearing {} ({}) of {what}: confirm with --yes (standard input is not a terminal to ask on)",
                    entries(count),
                    size(bytes)
                ),
            ));
        }
        eprint!(
            "Delete {} ({}) of {what} in {}? [y/N] ",
            entries(count),
            size(bytes),
            cx.location()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = stdin.lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            return Err(Failure::new(exit::NOT_CONFIRMED, "not cleared"));
        }
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
        }));
    } else {
        println!(
            "Deleted {} ({}) of {what}.",
            entries(cleared.removed.entries),
            size(cleared.removed.bytes)
        );
    }
    Ok(exit::OK)
}

/// `memo verify [--repair]`.
pub fn verify(cx: &Context, repair: bool) -> Result<u8, Failure> {
    let scan = cx.scan()?;
    let verified = cx
        .cache
        .verify(&scan, repair, &cx.progress)
        .map_err(|e| Failure::io("cannot verify", e))?;
    let unrepaired = verified.problems.iter().filter(|p| !p.removed).count();
    let code = if unrepaired > 0 {
        exit::PROBLEMS
    } else {
        exit::OK
    };
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "checked": tally_json(&verified.checked),
            "damaged": verified.problems.iter().map(|p| json!({
                "path": p.path, "problem": p.problem, "bytes": p.size, "removed": p.removed,
            })).collect::<Vec<_>>(),
        }));
        return Ok(code);
    }
    for p in &verified.problems {
        println!(
            "{}: {}{}",
            p.path,
            p.problem,
            if p.removed { " (removed)" } else { "" }
        );
    }
    let damaged = verified.problems.len() as u64;
    println!(
        "Checked {} ({}): {}{}.",
        entries(verified.checked.entries),
        size(verified.checked.bytes),
        if damaged == 0 {
            "all intact".to_owned()
        } else {
            format!("{damaged} damaged")
        },
        match (damaged, repair) {
            (0, _) => String::new(),
            (_, true) if unrepaired == 0 =>
                ", removed (they are recomputed on their next call)".to_owned(),
            (_, true) => format!(", {unrepaired} could not be removed"),
            (_, false) => " (`memo verify --repair` removes them)".to_owned(),
        }
    );
    Ok(code)
}
