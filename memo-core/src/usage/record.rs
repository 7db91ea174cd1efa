//! The log format: an 8-byte magic, then records of 40 bytes
//! (little-endian), appended by one process.
//!
//! A record holds the entry key (16), the xxh3-64 of the function
//! directory's name (8), the time in milliseconds since the Unix epoch in
//! the low 56 bits and the kind (1 hit, 2 miss) in the high 8 bits (8),
//! and a value (8): for a miss how long the function ran in microseconds,
//! for a hit how many hits the record stands for (version 2, `MEMOLOG\x02`;
//! in version 1 logs, `MEMOLOG\x01`, every hit record is one hit and the
//! value is unused). A torn record at the end of a log (a crash mid-write)
//! is ignored.

use super::Usage;

/// The magic of the logs this build writes.
pub(crate) const LOG_MAGIC: [u8; 8] = *b"MEMOLOG\x02";
/// Logs written before hits were counted per record: one hit per record.
const LOG_MAGIC_V1: [u8; 8] = *b"MEMOLOG\x01";
pub(crate) const RECORD_LEN: usize = 40;
const TIME_MASK: u64 = (1 << 56) - 1;
/// An unknown duration.
pub(crate) const UNKNOWN: u64 = u64::MAX;

/// Which log format a log's magic announces; `None`: not a log of ours (or
/// a newer format).
pub(crate) fn log_version(magic: &[u8]) -> Option<u8> {
    match magic.first_chunk::<8>()? {
        magic if *magic == LOG_MAGIC => Some(2),
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
        }
    }

    /// A record of a miss that ran `duration_us` microseconds.
    pub(crate) fn miss(key: u128, function: u64, time_ms: u64, duration_us: u64) -> Record {
        Record {
            key,
            function,
            time_ms,
            kind: Kind::Miss,
            duration_us,
            count: 1,
        }
    }

    /// Appends the record in the current format.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.function.to_le_bytes());
        let stamp = (self.time_ms & TIME_MASK) | (self.kind as u64) << 56;
        out.extend_from_slice(&stamp.to_le_bytes());
        let value = match self.kind {
            Kind::Hit => self.count,
            Kind::Miss => self.duration_us,
        };
        out.extend_from_slice(&value.to_le_bytes());
    }

    /// Reads a record of a log of `version`.
    pub(crate) fn read(bytes: &[u8], version: u8) -> Option<Record> {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let key = u128::from_le_bytes(bytes[0..16].try_into().unwrap());
        let stamp = u64_at(24);
        let value = u64_at(32);
        let time_ms = stamp & TIME_MASK;
        match stamp >> 56 {
            1 => Some(Record::hits(
                key,
                u64_at(16),
                time_ms,
                if version == 1 { 1 } else { value },
            )),
            2 => Some(Record::miss(key, u64_at(16), time_ms, value)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for original in [
            Record::miss(u128::MAX - 3, 7, 1_700_000_000_000, 2_000_000),
            Record::hits(5, 7, 1_700_000_000_000, 123_456),
        ] {
            let mut bytes = Vec::new();
            original.write(&mut bytes);
            assert_eq!(bytes.len(), RECORD_LEN);
            assert_eq!(Record::read(&bytes, 2), Some(original));
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
        assert_eq!(log_version(&LOG_MAGIC), Some(2));
        assert_eq!(log_version(b"MEMOLOG\x03"), None);
    }
}
