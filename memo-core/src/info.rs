//! `EntryInfo`: what memo knows about one stored call, for validation
//! callbacks, handles and tools.

use std::time::{Duration, SystemTime};

use crate::entry::EntryMeta;

/// A stored call's metadata (joblib's `metadata.json`), decoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// The function's identity: `crate::module::name`, or its `name = "..."`.
    pub identity: String,
    /// The call as written, rendered from its arguments: `f(1, "a")`.
    pub call: String,
    /// When the result was computed.
    pub created: SystemTime,
    /// How long the function ran.
    pub duration: Duration,
    /// Bytes of the stored entry.
    pub size: u64,
}

impl EntryInfo {
    /// How long ago the result was computed (zero if the clock went back).
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.created)
            .unwrap_or(Duration::ZERO)
    }

    pub(crate) fn from_meta(meta: &EntryMeta, size: u64) -> EntryInfo {
        EntryInfo {
            identity: meta.identity.clone(),
            call: meta.call.clone(),
            created: SystemTime::UNIX_EPOCH + Duration::from_millis(meta.created_ms),
            duration: Duration::try_from_secs_f64(meta.duration_s).unwrap_or(Duration::ZERO),
            size,
        }
    }
}
