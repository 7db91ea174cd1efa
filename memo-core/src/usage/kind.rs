//! [`MissKind`]: the kinds of reasons a miss can have, as usage records
//! keep them (one byte each) and as `memo why` and `memo stats` count them.
//!
//! The kinds and their short names live here, below both the call path
//! (`call/reason.rs` maps each [`MissReason`](crate::MissReason) to its
//! kind) and administration (which counts and names them), so neither
//! depends on the other and no name is written twice. The full sentence of
//! a reason is `MissReason`'s `Display`, kept in an entry's metadata.

use std::fmt;

/// The kind of a miss's reason: a short, stable name and a one-byte code in
/// usage records. See [`MissReason::kind`](crate::MissReason::kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
#[repr(u8)]
pub enum MissKind {
    /// Recorded before reasons were (older logs and summaries), or by a
    /// newer build with a kind this one does not know.
    #[default]
    Unknown = 0,
    /// Nothing stored, and nothing more could be said.
    Absent = 1,
    /// Nothing stored for the function at all.
    FirstCall = 2,
    /// Calls of this code version are stored, none with these arguments.
    NewArguments = 3,
    /// Results are stored under another code version.
    CodeChanged = 4,
    /// A recorded dependency has other code in this binary.
    DependencyChanged = 5,
    /// A recorded dependency is no longer in this binary.
    DependencyGone = 6,
    /// The stored entry was older than its expiry allows.
    Expired = 7,
    /// A validation callback rejected the stored entry.
    Rejected = 8,
    /// The stored entry failed its checks.
    Damaged = 9,
    /// The stored entry holds another output type (or does not decode).
    TypeChanged = 10,
    /// A refresh was asked for.
    Refresh = 11,
}

impl MissKind {
    /// Every kind, in code order.
    pub const ALL: [MissKind; 12] = [
        MissKind::Unknown,
        MissKind::Absent,
        MissKind::FirstCall,
        MissKind::NewArguments,
        MissKind::CodeChanged,
        MissKind::DependencyChanged,
        MissKind::DependencyGone,
        MissKind::Expired,
        MissKind::Rejected,
        MissKind::Damaged,
        MissKind::TypeChanged,
        MissKind::Refresh,
    ];

    /// The short name: `first call`, `new arguments`, `code changed`,
    /// `dependency changed`, `dependency gone`, `expired`, `rejected`,
    /// `damaged`, `type changed`, `refresh`, `absent`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            MissKind::Unknown => "unknown",
            MissKind::Absent => "absent",
            MissKind::FirstCall => "first call",
            MissKind::NewArguments => "new arguments",
            MissKind::CodeChanged => "code changed",
            MissKind::DependencyChanged => "dependency changed",
            MissKind::DependencyGone => "dependency gone",
            MissKind::Expired => "expired",
            MissKind::Rejected => "rejected",
            MissKind::Damaged => "damaged",
            MissKind::TypeChanged => "type changed",
            MissKind::Refresh => "refresh",
        }
    }

    /// Its code in usage records.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// The kind of a code read from a usage record: a code this build does
    /// not know reads as [`MissKind::Unknown`].
    pub(crate) fn from_code(code: u8) -> MissKind {
        MissKind::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(MissKind::Unknown)
    }
}

impl fmt::Display for MissKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_read_as_unknown() {
        for (i, kind) in MissKind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(kind.code()), i);
            assert_eq!(MissKind::from_code(kind.code()), kind);
        }
        assert_eq!(MissKind::from_code(200), MissKind::Unknown);
        assert_eq!(MissKind::Expired.to_string(), "expired");
    }
}
