//! Expiry and validation on the hit path: an entry older than
//! `expires_after`, or rejected by a validation callback (joblib's
//! `cache_validation_callback`), is recomputed and replaced, never served.
//!
//! Functions without either pay two branches. With `expires_after` only,
//! a hit decodes one field of the metadata; a validation callback gets the
//! whole decoded [`EntryInfo`].

use std::time::Duration;

use serde::Deserialize;

use super::fsutil;
use crate::entry::{EntryMeta, HEADER_LEN};
use crate::function::CachedFn;
use crate::info::EntryInfo;
use crate::memory::Memory;
use crate::store::StoredEntry;
use crate::trace;

/// The one metadata field an age check needs.
#[derive(Deserialize)]
struct Created {
    created_ms: u64,
}

/// Whether a verified entry may be served. An expired or rejected one is
/// reported (at verbose ≥ 1, and as a `tracing` event) if `report`.
pub(crate) fn fresh(
    function: &CachedFn,
    memory: &Memory,
    stored: &StoredEntry,
    report: bool,
) -> bool {
    match check(function, memory, &stored.bytes, stored.len) {
        Ok(()) => true,
        Err(reason) => {
            if report {
                let verbose = function.spec.verbose.unwrap_or_else(|| memory.verbosity());
                trace::note(
                    verbose,
                    format_args!("recomputing {}: {reason}", function.derived().identity),
                );
            }
            false
        }
    }
}

/// Whether an entry may be served; if not, why. `bytes` holds at least the
/// header and metadata of an entry of `len` bytes, already verified.
pub(crate) fn check(
    function: &CachedFn,
    memory: &Memory,
    bytes: &[u8],
    len: u64,
) -> Result<(), String> {
    let spec = &function.spec;
    let state = &memory.manage;
    if spec.expires_after.is_none()
        && spec.validate.is_none()
        && state.expires_after.is_none()
        && state.validation.is_none()
    {
        return Ok(());
    }
    let max_age = match (spec.expires_after, state.expires_after) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // The metadata follows the header; its length is at offset 12
    // (docs/format.md). The caller verified both.
    let meta_len =
        u32::from_le_bytes(bytes[12..16].try_into().expect("a verified header")) as usize;
    let meta_bytes = &bytes[HEADER_LEN..HEADER_LEN + meta_len];
    let needs_info = spec.validate.is_some() || state.validation.is_some();
    if !needs_info {
        let created: Created = crate::entry::decode(meta_bytes)
            .map_err(|e| format!("the stored entry's metadata does not decode ({e})"))?;
        return check_age(created.created_ms, max_age);
    }
    let meta: EntryMeta = crate::entry::decode(meta_bytes)
        .map_err(|e| format!("the stored entry's metadata does not decode ({e})"))?;
    check_age(meta.created_ms, max_age)?;
    let info = EntryInfo::from_meta(&meta, len);
    if let Some(validate) = spec.validate
        && !validate(&info)
    {
        return Err("its validation callback rejected the stored entry".to_owned());
    }
    if let Some(validate) = &state.validation
        && !validate(&info)
    {
        return Err("the Memory's validation callback rejected the stored entry".to_owned());
    }
    Ok(())
}

fn check_age(created_ms: u64, max_age: Option<Duration>) -> Result<(), String> {
    let Some(max_age) = max_age else {
        return Ok(());
    };
    let age = Duration::from_millis(fsutil::now_ms().saturating_sub(created_ms));
    if age > max_age {
        return Err(format!(
            "the stored entry expired (computed {} ago, expires after {})",
            super::format_duration(age),
            super::format_duration(max_age)
        ));
    }
    Ok(())
}
