//! The reason of a miss that found nothing under its key: the first call of
//! the function, a code change, or new arguments — and then which ones,
//! compared with the closest stored call.
//!
//! Decided once per miss, when the computation starts (never on a hit). The
//! first miss of a function in a process looks at a bounded sample of what
//! the store holds near the call (`store/nearby.rs`: a few directory
//! listings and metadata reads, whatever the cache holds); the process then
//! keeps that sample, and adds the calls it computes itself (up to the
//! sample's size), so its later misses are explained from memory, in well
//! under a microsecond. When the sample cannot tell which stored call is
//! closest, the arguments are not named.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::MissReason;
use crate::entry::{ArgRecord, EntryMeta};
use crate::function::CachedFn;
use crate::store::EntryStore;
use crate::store::nearby::{Nearby, SAMPLE};

/// What this process knows of the stored calls near each function (by its
/// address: cached functions are statics), once it looked.
static KNOWN: Mutex<Option<HashMap<usize, Nearby>>> = Mutex::new(None);

fn address(function: &CachedFn) -> usize {
    std::ptr::from_ref(function) as usize
}

/// Why a call of `function` with `args` (and `type_args`) found nothing.
pub(super) fn absent(
    store: &dyn EntryStore,
    function: &CachedFn,
    args: &[ArgRecord],
    type_args: &[String],
) -> MissReason {
    let now_ms = crate::sys::now_ms();
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let nearby = known
        .get_or_insert_default()
        .entry(address(function))
        .or_insert_with(|| {
            let derived = function.derived();
            store.nearby(&derived.dir, &derived.version)
        });
    decide(nearby, function, args, type_args, now_ms)
}

/// Forgets what this process knows of stored calls, after a clear: the
/// next miss of each function looks again, so it says "first call" rather
/// than comparing with calls that are gone.
pub(crate) fn forget_known_calls() {
    *KNOWN.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// Adds a call this process just stored to what it knows near `function`
/// (once it looked), keeping at most the sample's size.
pub(super) fn remember(function: &CachedFn, meta: EntryMeta) {
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(nearby) = known
        .as_mut()
        .and_then(|known| known.get_mut(&address(function)))
    else {
        return;
    };
    nearby.function_seen = true;
    nearby.same_version.push(meta);
    if nearby.same_version.len() > SAMPLE {
        nearby.same_version.remove(0);
        nearby.same_version_more = true;
    }
}

fn decide(
    nearby: &Nearby,
    function: &CachedFn,
    args: &[ArgRecord],
    type_args: &[String],
    now_ms: u64,
) -> MissReason {
    if !nearby.known {
        return MissReason::Absent;
    }
    let code_changed = |other: &crate::store::nearby::OtherVersion| {
        let label = |version: Option<&str>, dir: &str| match version {
            Some(version) if function.spec.ignore_code => format!("{version:?}"),
            _ => dir.to_owned(),
        };
        let old_version = other
            .calls
            .first()
            .and_then(|m| m.origin.version.as_deref());
        MissReason::CodeChanged {
            old: label(old_version, &other.name),
            new: label(function.spec.version, &function.derived().version),
            old_computed_ago: (other.changed_ms > 0)
                .then(|| Duration::from_millis(now_ms.saturating_sub(other.changed_ms))),
        }
    };
    // The same arguments stored under another code version: the code
    // changed, whatever else is stored.
    if let Some(other) = &nearby.other
        && other
            .calls
            .iter()
            .any(|meta| same_call(meta, args, type_args))
    {
        return code_changed(other);
    }
    if let Some((differ, same)) = closest(&nearby.same_version, args) {
        // Named only when no unread call could be closer.
        let named = !nearby.same_version_more || differ.len() == 1;
        return match named {
            true => MissReason::NewArguments { differ, same },
            false => MissReason::NewArguments {
                differ: Vec::new(),
                same: Vec::new(),
            },
        };
    }
    match &nearby.other {
        Some(other) => code_changed(other),
        None if !nearby.same_version_more => MissReason::FirstCall,
        None => MissReason::NewArguments {
            differ: Vec::new(),
            same: Vec::new(),
        },
    }
}

/// Whether `meta` records a call with these very arguments.
fn same_call(meta: &EntryMeta, args: &[ArgRecord], type_args: &[String]) -> bool {
    meta.type_args == type_args
        && meta.args.len() == args.len()
        && meta
            .args
            .iter()
            .zip(args)
            .all(|(stored, new)| stored.name == new.name && stored.digest == new.digest)
}

/// The arguments that differ from, and those the same as, the stored call
/// with the most equal arguments; `None` when nothing is stored. Counted
/// first and named once: this runs on every miss, over the whole sample.
fn closest(stored: &[EntryMeta], args: &[ArgRecord]) -> Option<(Vec<String>, Vec<String>)> {
    let equal = |meta: &EntryMeta, arg: &ArgRecord| {
        meta.args
            .iter()
            .any(|old| old.name == arg.name && old.digest == arg.digest)
    };
    let differing = |meta: &EntryMeta| args.iter().filter(|arg| !equal(meta, arg)).count();
    let closest = stored
        .iter()
        .map(|meta| (differing(meta), meta))
        .filter(|&(differ, _)| differ > 0)
        .min_by_key(|&(differ, _)| differ)?
        .1;
    let (same, differ): (Vec<&ArgRecord>, Vec<&ArgRecord>) =
        args.iter().partition(|arg| equal(closest, arg));
    let names = |args: Vec<&ArgRecord>| args.into_iter().map(|arg| arg.name.clone()).collect();
    Some((names(differ), names(same)))
}
