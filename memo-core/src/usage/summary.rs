//! [`Usage`]: everything recorded about a cache's use, merged, and the
//! `summary` file that holds it between compactions.
//!
//! A summary is `MEMOSUM\x01`, three counts (keys, retired functions,
//! cursors), the per-key aggregates (56 bytes each), the retired totals (32
//! bytes each), the cursors (a length-prefixed log name and an offset), and
//! the xxh3-64 of everything before.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_64;

use super::record::{Kind, Record, UNKNOWN};
use crate::sys::{self, KeyMap};

const SUMMARY_MAGIC: [u8; 8] = *b"MEMOSUM\x01";
const SUMMARY_KEY_LEN: usize = 56;
const SUMMARY_RETIRED_LEN: usize = 32;

/// The recorded use of one entry (one key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyUsage {
    /// [`dir_hash`] of the function's directory.
    pub function: u64,
    /// The last hit or miss, in milliseconds since the Unix epoch.
    pub last_use_ms: u64,
    pub hits: u64,
    pub misses: u64,
    /// When the latest miss computed it.
    pub computed_ms: u64,
    /// How long that computation took, in microseconds, or [`UNKNOWN`].
    pub duration_us: u64,
}

/// Counters of one function's entries that are gone (evicted or removed):
/// what they were hit, missed, and saved stays in the function's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub hits: u64,
    pub misses: u64,
    pub saved_us: u64,
}

/// Everything recorded about a cache's use, merged.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub(crate) keys: KeyMap<u128, KeyUsage>,
    pub(crate) retired: KeyMap<u64, Totals>,
    /// Per log file: how many of its bytes the summary holds.
    pub(crate) cursors: BTreeMap<String, u64>,
}

/// What is recorded about one entry, for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryUsage {
    /// The last time the entry was used (computed or served).
    pub last_used: SystemTime,
    /// How often it was served from the cache.
    pub hits: u64,
    /// How often it was computed.
    pub misses: u64,
    /// How long its latest computation took, if recorded.
    pub duration: Option<Duration>,
}

impl Usage {
    /// What is recorded about the entry with `key`.
    pub fn entry(&self, key: u128) -> Option<EntryUsage> {
        self.keys.get(&key).map(|k| EntryUsage {
            last_used: sys::time_of(k.last_use_ms),
            hits: k.hits,
            misses: k.misses,
            duration: (k.duration_us != UNKNOWN).then(|| Duration::from_micros(k.duration_us)),
        })
    }

    /// How many entries (keys) have records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.retired.is_empty()
    }

    pub(crate) fn apply(&mut self, record: &Record) {
        let usage = self.keys.entry(record.key).or_insert(KeyUsage {
            function: record.function,
            last_use_ms: 0,
            hits: 0,
            misses: 0,
            computed_ms: 0,
            duration_us: UNKNOWN,
        });
        usage.function = record.function;
        usage.last_use_ms = usage.last_use_ms.max(record.time_ms);
        match record.kind {
            Kind::Hit => usage.hits = usage.hits.saturating_add(record.count),
            Kind::Miss => {
                usage.misses += 1;
                if record.time_ms >= usage.computed_ms {
                    usage.computed_ms = record.time_ms;
                    if record.duration_us != UNKNOWN {
                        usage.duration_us = record.duration_us;
                    }
                }
            }
        }
    }

    /// Moves the counters of `key` (an entry that is gone) into its
    /// function's totals. `duration_us` stands in for an unknown duration.
    pub(crate) fn retire(&mut self, key: u128, duration_us: Option<u64>) {
        if let Some(usage) = self.keys.remove(&key) {
            let totals = self.retired.entry(usage.function).or_default();
            totals.hits += usage.hits;
            totals.misses += usage.misses;
            let duration = match usage.duration_us {
                UNKNOWN => duration_us.unwrap_or(0),
                known => known,
            };
            totals.saved_us = totals
                .saved_us
                .saturating_add(usage.hits.saturating_mul(duration));
        }
    }

    /// Forgets everything recorded about the function `function`.
    pub(crate) fn forget_function(&mut self, function: u64) {
        self.keys.retain(|_, usage| usage.function != function);
        self.retired.remove(&function);
    }

    /// Forgets everything.
    pub(crate) fn forget_all(&mut self) {
        self.keys.clear();
        self.retired.clear();
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + self.keys.len() * SUMMARY_KEY_LEN + self.retired.len() * SUMMARY_RETIRED_LEN,
        );
        out.extend_from_slice(&SUMMARY_MAGIC);
        for count in [self.keys.len(), self.retired.len(), self.cursors.len()] {
            out.extend_from_slice(&(count as u64).to_le_bytes());
        }
        for (key, usage) in &self.keys {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&usage.function.to_le_bytes());
            out.extend_from_slice(&usage.last_use_ms.to_le_bytes());
            out.extend_from_slice(&(usage.hits.min(u32::MAX.into()) as u32).to_le_bytes());
            out.extend_from_slice(&(usage.misses.min(u32::MAX.into()) as u32).to_le_bytes());
            out.extend_from_slice(&usage.computed_ms.to_le_bytes());
            out.extend_from_slice(&usage.duration_us.to_le_bytes());
        }
        for (function, totals) in &self.retired {
            for value in [*function, totals.hits, totals.misses, totals.saved_us] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        for (name, offset) in &self.cursors {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Usage> {
        let (body, sum) = bytes.split_last_chunk::<8>()?;
        if xxh3_64(body) != u64::from_le_bytes(*sum) || !body.starts_with(&SUMMARY_MAGIC) {
            return None;
        }
        let mut at = SUMMARY_MAGIC.len();
        let mut take = |len: usize| -> Option<&[u8]> {
            let part = body.get(at..at.checked_add(len)?)?;
            at += len;
            Some(part)
        };
        let u64_of = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let counts = take(24)?;
        let (keys, retired, cursors) = (
            u64_of(counts, 0) as usize,
            u64_of(counts, 8) as usize,
            u64_of(counts, 16) as usize,
        );
        let mut usage = Usage::default();
        let key_bytes = take(keys.checked_mul(SUMMARY_KEY_LEN)?)?;
        usage.keys.reserve(keys);
        for chunk in key_bytes.chunks_exact(SUMMARY_KEY_LEN) {
            let u32_at = |at: usize| u32::from_le_bytes(chunk[at..at + 4].try_into().unwrap());
            usage.keys.insert(
                u128::from_le_bytes(chunk[0..16].try_into().unwrap()),
                KeyUsage {
                    function: u64_of(chunk, 16),
                    last_use_ms: u64_of(chunk, 24),
                    hits: u32_at(32).into(),
                    misses: u32_at(36).into(),
                    computed_ms: u64_of(chunk, 40),
                    duration_us: u64_of(chunk, 48),
                },
            );
        }
        let retired_bytes = take(retired.checked_mul(SUMMARY_RETIRED_LEN)?)?;
        for chunk in retired_bytes.chunks_exact(SUMMARY_RETIRED_LEN) {
            usage.retired.insert(
                u64_of(chunk, 0),
                Totals {
                    hits: u64_of(chunk, 8),
                    misses: u64_of(chunk, 16),
                    saved_us: u64_of(chunk, 24),
                },
            );
        }
        for _ in 0..cursors {
            let len = u16::from_le_bytes(take(2)?.try_into().unwrap()) as usize;
            let name = std::str::from_utf8(take(len)?).ok()?.to_owned();
            let offset = u64::from_le_bytes(take(8)?.try_into().unwrap());
            usage.cursors.insert(name, offset);
        }
        (at == body.len()).then_some(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: u128, time_ms: u64, kind: Kind) -> Record {
        Record {
            key,
            function: 7,
            time_ms,
            kind,
            count: 1,
            duration_us: if kind == Kind::Miss {
                2_000_000
            } else {
                UNKNOWN
            },
        }
    }

    #[test]
    fn merging_counts_hits_misses_and_last_use() {
        let mut usage = Usage::default();
        usage.apply(&record(1, 100, Kind::Miss));
        usage.apply(&record(1, 300, Kind::Hit));
        usage.apply(&record(1, 200, Kind::Hit));
        let entry = usage.entry(1).unwrap();
        assert_eq!((entry.hits, entry.misses), (2, 1));
        assert_eq!(entry.last_used, sys::time_of(300));
        assert_eq!(entry.duration, Some(Duration::from_secs(2)));
        usage.retire(1, None);
        assert_eq!(usage.entry(1), None);
        assert_eq!(
            usage.retired[&7],
            Totals {
                hits: 2,
                misses: 1,
                saved_us: 4_000_000
            }
        );
    }

    #[test]
    fn summaries_round_trip_and_reject_damage() {
        let mut usage = Usage::default();
        for key in 0..100 {
            usage.apply(&record(key, 1000 + key as u64, Kind::Miss));
        }
        usage.retire(5, None);
        usage.cursors.insert("12-ab.log".into(), 48);
        let bytes = usage.encode();
        let decoded = Usage::decode(&bytes).unwrap();
        assert_eq!(decoded.keys, usage.keys);
        assert_eq!(decoded.retired, usage.retired);
        assert_eq!(decoded.cursors, usage.cursors);
        for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            assert!(Usage::decode(&damaged).is_none(), "byte {at}");
        }
        assert!(Usage::decode(&bytes[..bytes.len() - 3]).is_none());
    }
}
