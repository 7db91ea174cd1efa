//! [`Usage`]: everything recorded about a cache's use, merged, and the
//! `summary` file that holds it between compactions.
//!
//! A summary is `MEMOSUM\x02`, four counts (keys, retired functions,
//! functions with misses, cursors), the per-key aggregates (56 bytes each),
//! the retired totals (32 bytes each), the misses of each function (its
//! misses by reason and its recent misses), the cursors (a length-prefixed
//! log name and an offset), and the xxh3-64 of everything before. A version
//! 1 summary (`MEMOSUM\x01`, without the functions' misses) is still read:
//! its misses count as [`MissKind::Unknown`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_64;

use super::MissKind;
use super::record::{Kind, RECORD_LEN, Record, UNKNOWN};
use crate::sys::{self, KeyMap};

const SUMMARY_MAGIC: [u8; 8] = *b"MEMOSUM\x02";
/// Summaries written before misses had reasons.
const SUMMARY_MAGIC_V1: [u8; 8] = *b"MEMOSUM\x01";
const SUMMARY_KEY_LEN: usize = 56;
const SUMMARY_RETIRED_LEN: usize = 32;
/// How many recent misses are kept per function.
pub(crate) const RECENT_MISSES: usize = 64;

/// The recorded use of one entry (one key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyUsage {
    /// `dir_hash` of the function's directory.
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

/// The misses of one function, whatever became of their entries: counted
/// by the kind of their reason, and the most recent ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FunctionMisses {
    /// Misses by the kind of their reason, indexed by its code.
    by_reason: [u64; MissKind::ALL.len()],
    /// Recent miss records, unordered: at most twice [`RECENT_MISSES`]
    /// while records are merged ([`FunctionMisses::recent`] picks).
    recent: Vec<Record>,
}

impl FunctionMisses {
    fn add(&mut self, record: &Record) {
        self.count(record.miss.reason, 1);
        self.recent.push(*record);
        if self.recent.len() >= 2 * RECENT_MISSES {
            self.trim();
        }
    }

    fn count(&mut self, kind: MissKind, count: u64) {
        let slot = &mut self.by_reason[usize::from(kind.code())];
        *slot = slot.saturating_add(count);
    }

    /// Keeps the [`RECENT_MISSES`] most recent, newest first.
    fn trim(&mut self) {
        self.recent
            .sort_unstable_by(|a, b| b.time_ms.cmp(&a.time_ms).then(a.key.cmp(&b.key)));
        self.recent.truncate(RECENT_MISSES);
    }

    /// How many misses had each kind of reason (kinds without any left out).
    pub(crate) fn by_reason(&self) -> impl Iterator<Item = (MissKind, u64)> + '_ {
        MissKind::ALL
            .into_iter()
            .zip(self.by_reason)
            .filter(|&(_, count)| count > 0)
    }

    /// The most recent misses (at most [`RECENT_MISSES`]), newest first.
    pub(crate) fn recent(&self) -> Vec<Record> {
        let mut recent = self.clone();
        recent.trim();
        recent.recent
    }
}

/// Everything recorded about a cache's use, merged.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub(crate) keys: KeyMap<u128, KeyUsage>,
    pub(crate) retired: KeyMap<u64, Totals>,
    /// Per function (directory hash): its misses by reason, recent misses.
    pub(crate) functions: KeyMap<u64, FunctionMisses>,
    /// Per log file: how many of its bytes the summary holds.
    pub(crate) cursors: BTreeMap<String, u64>,
    /// The summary file this was read from, if it can be told.
    pub(crate) summary: Option<super::files::SummaryStamp>,
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

    /// The misses recorded for the function with directory hash `function`.
    pub(crate) fn misses_of(&self, function: u64) -> Option<&FunctionMisses> {
        self.functions.get(&function)
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
                self.functions
                    .entry(record.function)
                    .or_default()
                    .add(record);
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
        self.functions.remove(&function);
    }

    /// Forgets everything.
    pub(crate) fn forget_all(&mut self) {
        self.keys.clear();
        self.retired.clear();
        self.functions.clear();
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + self.keys.len() * SUMMARY_KEY_LEN + self.retired.len() * SUMMARY_RETIRED_LEN,
        );
        out.extend_from_slice(&SUMMARY_MAGIC);
        let counts = [
            self.keys.len(),
            self.retired.len(),
            self.functions.len(),
            self.cursors.len(),
        ];
        for count in counts {
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
        for (function, misses) in &self.functions {
            out.extend_from_slice(&function.to_le_bytes());
            let counts: Vec<(MissKind, u64)> = misses.by_reason().collect();
            let recent = misses.recent();
            out.extend_from_slice(&(counts.len() as u16).to_le_bytes());
            out.extend_from_slice(&(recent.len() as u16).to_le_bytes());
            for (kind, count) in counts {
                out.push(kind.code());
                out.extend_from_slice(&count.to_le_bytes());
            }
            for record in &recent {
                record.write(&mut out);
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
        if xxh3_64(body) != u64::from_le_bytes(*sum) {
            return None;
        }
        let version = match body.first_chunk::<8>()? {
            magic if *magic == SUMMARY_MAGIC => 2,
            magic if *magic == SUMMARY_MAGIC_V1 => 1,
            _ => return None,
        };
        let mut at = SUMMARY_MAGIC.len();
        let mut take = |len: usize| -> Option<&[u8]> {
            let part = body.get(at..at.checked_add(len)?)?;
            at += len;
            Some(part)
        };
        let u64_of = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let counts = take(if version == 1 { 24 } else { 32 })?;
        let count_at = |i: usize| usize::try_from(u64_of(counts, 8 * i)).ok();
        let (keys, retired, functions, cursors) = if version == 1 {
            (count_at(0)?, count_at(1)?, 0, count_at(2)?)
        } else {
            (count_at(0)?, count_at(1)?, count_at(2)?, count_at(3)?)
        };
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
        for _ in 0..functions {
            let head = take(12)?;
            let function = u64_of(head, 0);
            let counts = usize::from(u16::from_le_bytes([head[8], head[9]]));
            let recent = usize::from(u16::from_le_bytes([head[10], head[11]]));
            let misses = usage.functions.entry(function).or_default();
            for pair in take(counts * 9)?.chunks_exact(9) {
                misses.count(MissKind::from_code(pair[0]), u64_of(pair, 1));
            }
            for bytes in take(recent * RECORD_LEN)?.chunks_exact(RECORD_LEN) {
                let record = Record::read(bytes, 3)?;
                if record.kind == Kind::Miss && misses.recent.len() < RECENT_MISSES {
                    misses.recent.push(record);
                }
            }
        }
        if version == 1 {
            // Misses recorded before reasons were: their reason is unknown.
            for usage_of in usage.keys.values() {
                let misses = usage.functions.entry(usage_of.function).or_default();
                misses.count(MissKind::Unknown, usage_of.misses);
            }
            for (function, totals) in &usage.retired {
                let misses = usage.functions.entry(*function).or_default();
                misses.count(MissKind::Unknown, totals.misses);
            }
            usage
                .functions
                .retain(|_, misses| misses.by_reason().next().is_some());
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
    use super::super::record::Miss;
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
            miss: Miss::default(),
        }
    }

    fn miss(key: u128, time_ms: u64, reason: MissKind, stored: bool) -> Record {
        Record::miss(key, 7, time_ms, 10, Miss { reason, stored })
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
        assert_eq!(decoded.functions, {
            let mut trimmed = usage.functions.clone();
            trimmed.values_mut().for_each(FunctionMisses::trim);
            trimmed
        });
        for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            assert!(Usage::decode(&damaged).is_none(), "byte {at}");
        }
        assert!(Usage::decode(&bytes[..bytes.len() - 3]).is_none());
    }

    #[test]
    fn misses_are_counted_by_reason_whatever_became_of_their_entries() {
        let mut usage = Usage::default();
        usage.apply(&miss(1, 100, MissKind::FirstCall, true));
        usage.apply(&miss(1, 200, MissKind::Expired, true));
        usage.apply(&miss(1, 300, MissKind::Refresh, true));
        usage.apply(&miss(2, 400, MissKind::NewArguments, false));
        usage.retire(1, None);
        let misses = usage.misses_of(7).unwrap();
        let counts: Vec<_> = misses.by_reason().collect();
        assert_eq!(
            counts,
            [
                (MissKind::FirstCall, 1),
                (MissKind::NewArguments, 1),
                (MissKind::Expired, 1),
                (MissKind::Refresh, 1)
            ]
        );
        let recent = misses.recent();
        let times: Vec<u64> = recent.iter().map(|r| r.time_ms).collect();
        assert_eq!(times, [400, 300, 200, 100]);
        assert!(!recent[0].miss.stored);
        let decoded = Usage::decode(&usage.encode()).unwrap();
        let decoded = decoded.misses_of(7).unwrap();
        assert_eq!(decoded.recent(), recent);
        assert_eq!(decoded.by_reason().collect::<Vec<_>>(), counts);
        usage.forget_function(7);
        assert_eq!(usage.misses_of(7), None);
    }

    #[test]
    fn recent_misses_are_bounded_and_newest_first() {
        let mut usage = Usage::default();
        // Merged out of time order, as logs of several processes are.
        for i in 0..1000u64 {
            let time = (i * 7919) % 1000;
            usage.apply(&miss(u128::from(i), time, MissKind::Expired, true));
        }
        let misses = usage.misses_of(7).unwrap();
        assert!(misses.recent.len() < 2 * RECENT_MISSES);
        let times: Vec<u64> = misses.recent().iter().map(|r| r.time_ms).collect();
        let expected: Vec<u64> = (0..1000).rev().take(RECENT_MISSES).collect();
        assert_eq!(times, expected);
        assert_eq!(
            misses.by_reason().collect::<Vec<_>>(),
            [(MissKind::Expired, 1000)]
        );
    }

    #[test]
    fn version_1_summaries_are_read_with_unknown_reasons() {
        // A version 1 summary: magic, three counts, one key, one retired
        // function, no cursor, its checksum.
        let mut v1 = SUMMARY_MAGIC_V1.to_vec();
        for count in [1u64, 1, 0] {
            v1.extend_from_slice(&count.to_le_bytes());
        }
        v1.extend_from_slice(&5u128.to_le_bytes());
        v1.extend_from_slice(&7u64.to_le_bytes());
        v1.extend_from_slice(&1000u64.to_le_bytes());
        v1.extend_from_slice(&4u32.to_le_bytes());
        v1.extend_from_slice(&2u32.to_le_bytes());
        v1.extend_from_slice(&900u64.to_le_bytes());
        v1.extend_from_slice(&UNKNOWN.to_le_bytes());
        for value in [7u64, 1, 3, 0] {
            v1.extend_from_slice(&value.to_le_bytes());
        }
        let sum = xxh3_64(&v1);
        v1.extend_from_slice(&sum.to_le_bytes());
        let usage = Usage::decode(&v1).unwrap();
        assert_eq!(usage.entry(5).unwrap().hits, 4);
        let counts: Vec<_> = usage.misses_of(7).unwrap().by_reason().collect();
        assert_eq!(counts, [(MissKind::Unknown, 5)]);
        assert!(Usage::decode(&usage.encode()).is_some());
    }
}
