//! The log format: an 8-byte magic, then records of 40 bytes
//! (little-endian), appended by one process.
//!
//! A record holds the entry key (16), the xxh3-64 of the function
//! directory's name (8), a stamp (8) and a value (8). The stamp holds the
//! time in milliseconds since the Unix epoch in its low 48 bits, for a miss
//! the kind of its reason ([`MissKind`]'s code) in bits 48–54 and "its
//! result was not stored" (an `Err`) in bit 55, and the record's kind (1
//! hit, 2 miss) in its high 8 bits. The value is, for a miss, how long the
//! function ran in microseconds, for a hit how many hits the record stands
//! for. That is version 3 (`MEMOLOG\x03`).
//!
//! Older logs are read too: version 2 (`MEMOLOG\x02`) has the time in the
//! low 56 bits and no reason (its misses read as [`MissKind::Unknown`],
//! stored); version 1 (`MEMOLOG\x01`) also counts one hit per record. A
//! torn record at the end of a log (a crash mid-write) is ignored.

use super::{MissKind, Usage};

/// The magic of the logs this build writes.
pub(crate) const LOG_MAGIC: [u8; 8] = *b"MEMOLOG\x03";
/// Logs written before misses had reasons.
const LOG_MAGIC_V2: [u8; 8] = *b"MEMOLOG\x02";
/// Logs written before hits were counted per record: one hit per record.
const LOG_MAGIC_V1: [u8; 8] = *b"MEMOLOG\x01";
pub(crate) const RECORD_LEN: usize = 40;
/// The time's bits in a version 3 stamp (enough for 8000 years).
const TIME_MASK: u64 = (1 << 48) - 1;
/// The time's bits in a version 1 or 2 stamp.
const OLD_TIME_MASK: u64 = (1 << 56) - 1;
/// A miss's reason code in a version 3 stamp (after shifting by 48).
const REASON_MASK: u64 = 0x7f;
/// "Not stored" in a version 3 stamp.
const NOT_STORED: u64 = 1 << 55;
/// An unknown duration.
pub(crate) const UNKNOWN: u64 = u64::MAX;

/// Which log format a log's magic announces; `None`: not a log of ours (or
/// a newer format).
pub(crate) fn log_version(magic: &[u8]) -> Option<u8> {
    match magic.first_chunk::<8>()? {
        magic if *magic == LOG_MAGIC => Some(3),
        magic if *magic == LOG_MAGIC_V2 => Some(2),
        magic if *magic == LOG_MAGIC_V1 => Some(1),
        _ => None,
    }
}

/// Applies the whole records in `bytes` (records of a log of `version`,
/// without its magic) to `usage`; returns how many bytes they took.
pub(crate) fn merge_records(usage: &mut Usage, bytes: &[u8], version: u8) -> usize {
    let whole = bytes.len() / RECORD_LEN * RECORD_LEN;
    for chunk in bytes[..whole].chunks_exact(RECORD_LEN) {
        if let Some(record) = Record::read(chunk, version) {
            usage.apply(&record);
        }
    }
    whole
}

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Served from the cache.
    Hit = 1,
    /// Computed (and stored, if storable).
    Miss = 2,
}

/// What a miss record says besides its time and duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Miss {
    /// The kind of its reason.
    pub reason: MissKind,
    /// Whether its result was stored (`false`: an `Err`, or nothing kept).
    pub stored: bool,
}

impl Default for Miss {
    /// What a record without a reason says: unknown, stored.
    fn default() -> Miss {
        Miss {
            reason: MissKind::Unknown,
            stored: true,
        }
    }
}

/// One usage record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub key: u128,
    pub function: u64,
    pub time_ms: u64,
    pub kind: Kind,
    /// How long a miss ran, in microseconds; [`UNKNOWN`] for a hit.
    pub duration_us: u64,
    /// For a hit, how many hits this record stands for.
    pub count: u64,
    /// For a miss, its reason; the default for a hit.
    pub miss: Miss,
}

impl Record {
    /// A record of `count` hits, the last at `time_ms`.
    pub(crate) fn hits(key: u128, function: u64, time_ms: u64, count: u64) -> Record {
        Record {
            key,
            function,
            time_ms,
            kind: Kind::Hit,
            duration_us: UNKNOWN,
            count,
            miss: Miss::default(),
        }
    }

    /// A record of a miss that ran `duration_us` microseconds.
    pub(crate) fn miss(
        key: u128,
        function: u64,
        time_ms: u64,
        duration_us: u64,
        miss: Miss,
    ) -> Record {
        Record {
            key,
            function,
            time_ms,
            kind: Kind::Miss,
            duration_us,
            count: 1,
            miss,
        }
    }

    /// Appends the record in the current format.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.function.to_le_bytes());
        let mut stamp = (self.time_ms & TIME_MASK) | (self.kind as u64) << 56;
        let value = match self.kind {
            Kind::Hit => self.count,
            Kind::Miss => {
                stamp |= u64::from(self.miss.reason.code()) << 48;
                if !self.miss.stored {
                    stamp |= NOT_STORED;
                }
                self.duration_us
            }
        };
        out.extend_from_slice(&stamp.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }

    /// Reads a record of a log of `version`.
    pub(crate) fn read(bytes: &[u8], version: u8) -> Option<Record> {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let key = u128::from_le_bytes(bytes[0..16].try_into().unwrap());
        let stamp = u64_at(24);
        let value = u64_at(32);
        let (time_ms, miss) = if version >= 3 {
            let miss = Miss {
                reason: MissKind::from_code(((stamp >> 48) & REASON_MASK) as u8),
                stored: stamp & NOT_STORED == 0,
            };
            (stamp & TIME_MASK, miss)
        } else {
            (stamp & OLD_TIME_MASK, Miss::default())
        };
        match stamp >> 56 {
            1 => Some(Record::hits(
                key,
                u64_at(16),
                time_ms,
                if version == 1 { 1 } else { value },
            )),
            2 => Some(Record::miss(key, u64_at(16), time_ms, value, miss)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let expired = Miss {
            reason: MissKind::Expired,
            stored: false,
        };
        for original in [
            Record::miss(u128::MAX - 3, 7, 1_700_000_000_000, 2_000_000, expired),
            Record::miss(3, 7, TIME_MASK, 0, Miss::default()),
            Record::hits(5, 7, 1_700_000_000_000, 123_456),
        ] {
            let mut bytes = Vec::new();
            original.write(&mut bytes);
            assert_eq!(bytes.len(), RECORD_LEN);
            assert_eq!(Record::read(&bytes, 3), Some(original));
            bytes[31] = 9;
            assert_eq!(Record::read(&bytes, 2), None, "unknown kind");
        }
    }

    #[test]
    fn version_1_hit_records_are_one_hit_each() {
        // Version 1 wrote an unknown duration where version 2 writes a count.
        let mut bytes = Vec::new();
        Record::hits(5, 7, 1000, UNKNOWN).write(&mut bytes);
        assert_eq!(Record::read(&bytes, 1).unwrap().count, 1);
        let mut usage = Usage::default();
        let mut log = bytes.repeat(3);
        log.extend_from_slice(&bytes[..10]);
        assert_eq!(merge_records(&mut usage, &log, 1), 3 * RECORD_LEN);
        assert_eq!(usage.entry(5).unwrap().hits, 3);
        assert_eq!(log_version(b"MEMOLOG\x01"), Some(1));
        assert_eq!(log_version(b"MEMOLOG\x02"), Some(2));
        assert_eq!(log_version(&LOG_MAGIC), Some(3));
        assert_eq!(log_version(b"MEMOLOG\x04"), None);
    }

    #[test]
    fn version_2_misses_have_no_reason() {
        // Version 2 wrote the time in 56 bits and nothing else there.
        let time_ms = 1_700_000_000_000u64;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&9u128.to_le_bytes());
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend_from_slice(&(time_ms | 2 << 56).to_le_bytes());
        bytes.extend_from_slice(&1234u64.to_le_bytes());
        let record = Record::read(&bytes, 2).unwrap();
        assert_eq!(record.time_ms, time_ms);
        assert_eq!(record.miss, Miss::default());
        assert_eq!(record.duration_us, 1234);
    }
}
