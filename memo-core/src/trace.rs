//! What memo prints: joblib's verbose trace and warnings, on stderr (stdout
//! belongs to the user's program), mirrored as `tracing` events so
//! applications can route them.

use std::fmt::Arguments;
use std::io::Write;
use std::time::Duration;

/// Width of joblib's rule lines.
const RULE: usize = 80;

/// The opening of a computed call, at verbose ≥ 1: a rule,
/// `[Memory] Calling crate::f...`, the call as written, and why it was not
/// served from the cache.
pub(crate) fn calling(identity: &str, call: &str, reason: &dyn std::fmt::Display) {
    let rule = "_".repeat(RULE);
    eprint_all(format_args!(
        "{rule}\n[Memory] Calling {identity}...\n{call}\n[Memory] Reason: {reason}\n"
    ));
}

/// The closing line of a computed call, right-aligned on a rule:
/// `______ f - 0.1s, 0.0min`.
pub(crate) fn computed(name: &str, duration: Duration) {
    let message = format!("{name} - {}", format_duration(duration));
    let rule = "_".repeat(RULE.saturating_sub(message.len()));
    eprint_all(format_args!("{rule}{message}\n"));
}

/// A load from the cache, at verbose ≥ 2.
pub(crate) fn loading(name: &str, identity: &str) {
    eprint_all(format_args!(
        "[Memory] Loading {name}... ({identity}, from cache)\n"
    ));
}

/// A warning: always printed, since each one means work was or will be lost.
pub(crate) fn warn(message: Arguments<'_>) {
    tracing::warn!(target: "memory", "{message}");
    eprint_all(format_args!("[Memory] warning: {message}\n"));
}

/// Something the user may want to know at verbose ≥ 1 (a stale entry being
/// replaced); always a `tracing` event.
pub(crate) fn note(verbose: u8, message: Arguments<'_>) {
    tracing::info!(target: "memory", "{message}");
    if verbose >= 1 {
        eprint_all(format_args!("[Memory] {message}\n"));
    }
}

/// joblib's `format_time`: `1.5s, 0.0min`.
fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    format!("{seconds:.1}s, {:.1}min", seconds / 60.0)
}

/// One `write_all` on a locked stderr, so lines of concurrent calls do not
/// interleave mid-line; a closed stderr is not the caller's problem.
fn eprint_all(text: Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_joblib() {
        assert_eq!(
            format_duration(Duration::from_millis(90_000)),
            "90.0s, 1.5min"
        );
        assert_eq!(format_duration(Duration::ZERO), "0.0s, 0.0min");
    }
}
