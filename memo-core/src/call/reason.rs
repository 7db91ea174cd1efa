//! Why a call computes instead of returning what is stored.

use std::fmt;
use std::time::Duration;

use crate::entry::EntryError;
use crate::readable::format_duration;

/// Why a call misses: no entry, or an entry that was found and not used.
///
/// Every path that turns a found entry into a recomputation carries one, so
/// a miss can always be explained in words (its `Display`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MissReason {
    /// Nothing is stored under the call's key.
    #[error("no entry is stored for it")]
    Absent,
    /// The stored entry failed its checks (truncated, foreign, checksum).
    #[error("the stored entry is damaged ({0})")]
    Damaged(EntryError),
    /// The entry was stored with another output type.
    #[error("the stored entry is stale: its output type is no longer {wanted}")]
    TypeChanged {
        /// The output type the caller wants.
        wanted: &'static str,
    },
    /// The entry claims the caller's output type but does not decode as it
    /// (a type whose definition changed under the same name).
    #[error("the stored entry is stale: its output does not decode as {wanted} ({error})")]
    Undecodable {
        /// The output type the caller wants.
        wanted: &'static str,
        /// What the decoder said.
        error: EntryError,
    },
    /// The entry is older than `expires_after` allows.
    #[error(
        "the stored entry expired (computed {} ago, expires after {})",
        format_duration(*age),
        format_duration(*limit)
    )]
    Expired {
        /// How long ago it was computed.
        age: Duration,
        /// The age limit in force.
        limit: Duration,
    },
    /// A validation callback (joblib's `cache_validation_callback`)
    /// rejected the entry.
    #[error("{0} rejected the stored entry")]
    Rejected(Validator),
    /// An annotated function that ran while the entry was computed has
    /// other code in this binary (recorded dependencies, `recorded.rs`).
    #[error("dependency `{identity}` changed")]
    DependencyChanged {
        /// The dependency's identity.
        identity: String,
    },
    /// An annotated function that ran while the entry was computed is no
    /// longer in this binary.
    #[error("dependency `{identity}` no longer exists")]
    DependencyGone {
        /// The dependency's identity.
        identity: String,
    },
    /// A handle (`memory::handle(..).call()`) asked to run the function
    /// whatever is stored.
    #[error("it was asked to recompute")]
    Refresh,
}

/// Which validation callback rejected an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validator {
    /// The function's own `validate = path`.
    Function,
    /// The `Memory`'s callback.
    Memory,
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validator::Function => "its validation callback",
            Validator::Memory => "the Memory's validation callback",
        })
    }
}
