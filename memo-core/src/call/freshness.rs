//! Expiry and validation on the hit path: an entry older than
//! `expires_after`, or rejected by a validation callback (joblib's
//! `cache_validation_callback`), is recomputed and replaced, never served.
//!
//! Functions without either pay two branches. With `expires_after` only,
//! a hit decodes one field of the metadata; a validation callback gets the
//! whole decoded [`EntryInfo`].

use std::time::Duration;

use serde::Deserialize;

use super::reason::{MissReason, Validator};
use crate::entry::{Entry, EntryMeta};
use crate::function::CachedFn;
use crate::info::EntryInfo;
use crate::memory::Memory;

/// The one metadata field an age check needs.
#[derive(Deserialize)]
struct Created {
    created_ms: u64,
}

/// Whether `function` has an expiry or a validation callback: whether
/// [`check`] has anything to check.
#[inline]
pub(crate) fn applies(function: &CachedFn, memory: &Memory) -> bool {
    let (spec, state) = (&function.spec, &memory.upkeep);
    spec.expires_after.is_some()
        || spec.validate.is_some()
        || state.expires_after.is_some()
        || state.validation.is_some()
}

/// Whether a verified entry of `len` bytes may be served; if not, why.
pub(crate) fn check(
    function: &CachedFn,
    memory: &Memory,
    entry: &Entry<'_>,
    len: u64,
) -> Result<(), MissReason> {
    let spec = &function.spec;
    let state = &memory.upkeep;
    if !applies(function, memory) {
        return Ok(());
    }
    let max_age = function.max_age(memory);
    let needs_info = spec.validate.is_some() || state.validation.is_some();
    if !needs_info {
        let created: Created = entry.meta_as().map_err(MissReason::Damaged)?;
        return check_age(created.created_ms, max_age);
    }
    let meta: EntryMeta = entry.meta_as().map_err(MissReason::Damaged)?;
    check_age(meta.created_ms, max_age)?;
    let info = EntryInfo::from_meta(&meta, len);
    if let Some(validate) = spec.validate
        && !validate(&info)
    {
        return Err(MissReason::Rejected(Validator::FunctionCallback));
    }
    if let Some(validate) = &state.validation
        && !validate(&info)
    {
        return Err(MissReason::Rejected(Validator::MemoryCallback));
    }
    Ok(())
}

fn check_age(created_ms: u64, max_age: Option<Duration>) -> Result<(), MissReason> {
    let Some(limit) = max_age else {
        return Ok(());
    };
    let age = Duration::from_millis(crate::sys::now_ms().saturating_sub(created_ms));
    if age > limit {
        return Err(MissReason::Expired { age, limit });
    }
    Ok(())
}
