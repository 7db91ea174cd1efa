//! The recorded dependencies of an entry, read straight from its encoded
//! metadata on the hit path: no decoding of the other fields, no
//! allocation.
//!
//! [`EntryMeta`](super::EntryMeta) is a MessagePack map with named fields
//! whose first key is `deps` when the entry has any (an empty list is left
//! out). So an entry without dependencies costs reading one map header and
//! one short string; one with dependencies, a walk over an array of
//! `{identity, fingerprint}` maps. Everything read is bounds-checked: the
//! bytes passed the entry's checksum, but a foreign writer may still have
//! put anything there, and that is an error, never a panic.

use super::EntryError;

/// Iterates over the `(identity, fingerprint)` pairs recorded in encoded
/// metadata.
#[derive(Debug, Clone)]
pub(crate) struct RecordedDeps<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> RecordedDeps<'a> {
    /// The recorded dependencies of `meta` (the encoded metadata); empty
    /// when it has none.
    pub(crate) fn of(meta: &'a [u8]) -> Result<RecordedDeps<'a>, EntryError> {
        let none = RecordedDeps {
            rest: &[],
            remaining: 0,
        };
        let mut rest = meta;
        if map_len(&mut rest)? == 0 {
            return Ok(none);
        }
        if str(&mut rest)? != "deps" {
            return Ok(none);
        }
        let remaining = array_len(&mut rest)?;
        Ok(RecordedDeps { rest, remaining })
    }

    /// How many dependencies are left to read.
    pub(crate) fn len(&self) -> usize {
        self.remaining as usize
    }

    fn read_one(&mut self) -> Result<(&'a str, u128), EntryError> {
        let mut identity = None;
        let mut fingerprint = None;
        for _ in 0..map_len(&mut self.rest)? {
            match str(&mut self.rest)? {
                "identity" => identity = Some(str(&mut self.rest)?),
                "fingerprint" => fingerprint = Some(hex(str(&mut self.rest)?)?),
                _ => return Err(malformed("an unknown field in a dependency")),
            }
        }
        match (identity, fingerprint) {
            (Some(identity), Some(fingerprint)) => Ok((identity, fingerprint)),
            _ => Err(malformed("a dependency without identity or fingerprint")),
        }
    }
}

impl<'a> Iterator for RecordedDeps<'a> {
    type Item = Result<(&'a str, u128), EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let read = self.read_one();
        if read.is_err() {
            self.remaining = 0;
        }
        Some(read)
    }
}

fn malformed(what: &str) -> EntryError {
    EntryError::Meta(format!("recorded dependencies: {what}"))
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], EntryError> {
    if rest.len() < n {
        return Err(malformed("truncated"));
    }
    let (taken, after) = rest.split_at(n);
    *rest = after;
    Ok(taken)
}

/// A length after a marker: `n` big-endian bytes.
fn len_of(rest: &mut &[u8], n: usize) -> Result<u32, EntryError> {
    let bytes = take(rest, n)?;
    Ok(bytes.iter().fold(0u32, |len, &b| (len << 8) | u32::from(b)))
}

fn map_len(rest: &mut &[u8]) -> Result<u32, EntryError> {
    match take(rest, 1)?[0] {
        marker @ 0x80..=0x8f => Ok(u32::from(marker & 0x0f)),
        0xde => len_of(rest, 2),
        0xdf => len_of(rest, 4),
        _ => Err(malformed("not a map")),
    }
}

fn array_len(rest: &mut &[u8]) -> Result<u32, EntryError> {
    match take(rest, 1)?[0] {
        marker @ 0x90..=0x9f => Ok(u32::from(marker & 0x0f)),
        0xdc => len_of(rest, 2),
        0xdd => len_of(rest, 4),
        _ => Err(malformed("not an array")),
    }
}

fn str<'a>(rest: &mut &'a [u8]) -> Result<&'a str, EntryError> {
    let len = match take(rest, 1)?[0] {
        marker @ 0xa0..=0xbf => u32::from(marker & 0x1f),
        0xd9 => len_of(rest, 1)?,
        0xda => len_of(rest, 2)?,
        0xdb => len_of(rest, 4)?,
        _ => return Err(malformed("not a string")),
    };
    std::str::from_utf8(take(rest, len as usize)?).map_err(|_| malformed("not UTF-8"))
}

/// 32 hex digits.
fn hex(digits: &str) -> Result<u128, EntryError> {
    if digits.len() != 32 {
        return Err(malformed("a fingerprint that is not 32 hex digits"));
    }
    u128::from_str_radix(digits, 16).map_err(|_| malformed("a fingerprint that is not hex"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{DepRecord, EntryMeta};

    fn meta(deps: Vec<DepRecord>) -> Vec<u8> {
        let meta = EntryMeta {
            deps,
            identity: "demo::f".into(),
            fingerprint: format!("{:032x}", 7u128),
            output_type: "u64".into(),
            call: "f(1)".into(),
            args: vec![],
            type_args: vec![],
            created_ms: 1,
            duration_s: 0.5,
        };
        rmp_serde::to_vec_named(&meta).unwrap()
    }

    fn dep(identity: &str, fingerprint: u128) -> DepRecord {
        DepRecord {
            identity: identity.into(),
            fingerprint: format!("{fingerprint:032x}"),
        }
    }

    #[test]
    fn no_dependencies_read_as_none() {
        let bytes = meta(vec![]);
        assert_eq!(RecordedDeps::of(&bytes).unwrap().count(), 0);
    }

    #[test]
    fn dependencies_read_back_in_order() {
        let long = "x".repeat(300);
        let bytes = meta(vec![dep("demo::g", 1), dep(&long, u128::MAX)]);
        let read: Vec<(&str, u128)> = RecordedDeps::of(&bytes)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, vec![("demo::g", 1), (long.as_str(), u128::MAX)]);
        // The rest of the metadata still decodes with serde.
        let decoded: EntryMeta = crate::entry::decode(&bytes).unwrap();
        assert_eq!(decoded.deps.len(), 2);
    }

    #[test]
    fn every_truncation_is_an_error_or_fewer_dependencies_never_a_panic() {
        let bytes = meta(vec![dep("demo::g", 1), dep("demo::h", 2)]);
        for len in 0..bytes.len() {
            if let Ok(deps) = RecordedDeps::of(&bytes[..len]) {
                let _ = deps.collect::<Vec<_>>();
            }
        }
        let mut bad = bytes.clone();
        let at = bad.windows(2).position(|w| w == b"fi").unwrap() + 14;
        bad[at] = b'z';
        let read: Result<Vec<_>, _> = RecordedDeps::of(&bad).unwrap().collect();
        assert!(read.is_err());
    }
}
