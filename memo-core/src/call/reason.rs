//! Why a call computes instead of returning what is stored.
//!
//! Every miss carries a [`MissReason`], decided on the miss path only (a hit
//! never pays for it). Its rendering lives here and only here: the `Display`
//! text (one `#[error]` per variant) for people, and [`MissReason::miss_kind`]
//! for counting (the kinds and their short names are `usage/kind.rs`'s,
//! since usage records keep them and administration counts them, and
//! neither may depend on the call path). A new reason is one variant with
//! its two arms.

use std::fmt;
use std::time::Duration;

use crate::entry::EntryError;
use crate::readable::format_duration;
use crate::usage::MissKind;

/// Why a call missed: nothing usable was stored for it, and what was there
/// instead.
///
/// Returned by [`Handle::why_not`](crate::Handle::why_not), printed at
/// `verbose >= 1`, sent as a `tracing` event, and recorded in the entry
/// the miss computes (so `memo why FUNCTION` can list it later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MissReason {
    /// Nothing is stored for the call, and nothing more could be said (a
    /// store that cannot be looked around cheaply).
    #[error("no entry is stored for it")]
    Absent,
    /// Nothing is stored for this function at all.
    #[error("first call of the function")]
    FirstCall,
    /// Calls of this code version are stored, none with these arguments.
    #[error("new arguments{}", NamedArgs { differ, same })]
    NewArguments {
        /// Arguments whose value differs from the closest stored call (empty
        /// when looking for it would cost too much).
        differ: Vec<String>,
        /// Arguments with the same value as in that call.
        same: Vec<String>,
    },
    /// The function's code changed: results are stored under another code
    /// version, none under this one for these arguments.
    #[error(
        "code changed (version {old} → {new}){}",
        Computed(*old_computed_ago)
    )]
    CodeChanged {
        /// The code version results were stored under (16 hex digits).
        old: String,
        /// This build's code version.
        new: String,
        /// How long ago the newest result of the old version was computed.
        old_computed_ago: Option<Duration>,
    },
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
    /// An annotated function (`#[memory::cache]` or `#[memory::fingerprint]`)
    /// that ran while the entry was computed has other code in this binary.
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
    /// A handle ([`Handle::refresh`](crate::Handle::refresh) or
    /// [`Handle::call`](crate::Handle::call)) asked to run the function
    /// whatever is stored.
    #[error("refresh requested")]
    Refresh,
}

impl MissReason {
    /// A short, stable name of the reason, for counting misses by reason
    /// (`memo why`, `memo stats`): `first call`, `new arguments`,
    /// `code changed`, `dependency changed`, `dependency gone`, `expired`,
    /// `rejected`, `damaged`, `type changed`, `refresh`, `absent`.
    pub fn kind(&self) -> &'static str {
        self.miss_kind().as_str()
    }

    /// The kind of the reason, as usage records keep it.
    pub fn miss_kind(&self) -> MissKind {
        match self {
            MissReason::Absent => MissKind::Absent,
            MissReason::FirstCall => MissKind::FirstCall,
            MissReason::NewArguments { .. } => MissKind::NewArguments,
            MissReason::CodeChanged { .. } => MissKind::CodeChanged,
            MissReason::Damaged(_) => MissKind::Damaged,
            MissReason::TypeChanged { .. } | MissReason::Undecodable { .. } => {
                MissKind::TypeChanged
            }
            MissReason::Expired { .. } => MissKind::Expired,
            MissReason::Rejected(_) => MissKind::Rejected,
            MissReason::DependencyChanged { .. } => MissKind::DependencyChanged,
            MissReason::DependencyGone { .. } => MissKind::DependencyGone,
            MissReason::Refresh => MissKind::Refresh,
        }
    }
}

/// Which validation callback rejected an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Validator {
    /// The function's own `validate = path`.
    FunctionCallback,
    /// The `Memory`'s callback.
    MemoryCallback,
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validator::FunctionCallback => "its validation callback",
            Validator::MemoryCallback => "the Memory's validation callback",
        })
    }
}

/// `: `x` differs, `s` same`, or nothing when the arguments were not
/// compared.
struct NamedArgs<'a> {
    differ: &'a [String],
    same: &'a [String],
}

impl fmt::Display for NamedArgs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.differ.is_empty() {
            return Ok(());
        }
        let list = |names: &[String]| {
            names
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let verb = if self.differ.len() == 1 {
            "differs"
        } else {
            "differ"
        };
        write!(f, ": {} {verb}", list(self.differ))?;
        if !self.same.is_empty() {
            write!(f, ", {} same", list(self.same))?;
        }
        Ok(())
    }
}

/// `; the old version's newest result was computed 2h 10m ago`.
struct Computed(Option<Duration>);

impl fmt::Display for Computed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ago) => write!(
                f,
                "; the old version's newest result was computed {} ago",
                format_duration(ago)
            ),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences() {
        let new_args = MissReason::NewArguments {
            differ: vec!["x".into()],
            same: vec!["s".into(), "t".into()],
        };
        assert_eq!(
            new_args.to_string(),
            "new arguments: `x` differs, `s`, `t` same"
        );
        let unnamed = MissReason::NewArguments {
            differ: vec![],
            same: vec![],
        };
        assert_eq!(unnamed.to_string(), "new arguments");
        let code = MissReason::CodeChanged {
            old: "00000000000000aa".into(),
            new: "00000000000000bb".into(),
            old_computed_ago: Some(Duration::from_secs(7800)),
        };
        assert_eq!(
            code.to_string(),
            "code changed (version 00000000000000aa → 00000000000000bb); \
             the old version's newest result was computed 2h 10m ago"
        );
        assert_eq!(code.kind(), "code changed");
    }
}
