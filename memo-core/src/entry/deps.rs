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

/// One recorded dependency, as its bytes: checking it against a binary's
/// fingerprints needs no UTF-8 validation and no hex parsing (the bytes are
/// compared with what this binary would write, [`hex_digits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawDep<'a> {
    /// The identity's UTF-8 bytes (unchecked).
    pub identity: &'a [u8],
    /// The fingerprint's hex digits (unchecked).
    pub fingerprint: &'a [u8],
}

impl<'a> RawDep<'a> {
    /// The identity and fingerprint, checked: UTF-8 and 32 hex digits.
    pub(crate) fn parsed(&self) -> Result<(&'a str, u128), EntryError> {
        let identity =
            std::str::from_utf8(self.identity).map_err(|_| malformed("an identity not UTF-8"))?;
        Ok((identity, hex(self.fingerprint)?))
    }
}

/// A fingerprint as an entry records it: 32 lowercase hex digits.
pub(crate) fn hex_digits(fingerprint: u128) -> [u8; 32] {
    let mut digits = [0; 32];
    for (at, digit) in digits.iter_mut().enumerate() {
        let nibble = (fingerprint >> (4 * (31 - at))) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    digits
}

/// Iterates over the dependencies recorded in encoded metadata.
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
        if str(&mut rest)? != b"deps" {
            return Ok(none);
        }
        let remaining = array_len(&mut rest)?;
        Ok(RecordedDeps { rest, remaining })
    }

    /// How many dependencies are left to read.
    pub(crate) fn len(&self) -> usize {
        self.remaining as usize
    }

    fn read_one(&mut self) -> Result<RawDep<'a>, EntryError> {
        let mut identity = None;
        let mut fingerprint = None;
        for _ in 0..map_len(&mut self.rest)? {
            match str(&mut self.rest)? {
                b"identity" => identity = Some(str(&mut self.rest)?),
                b"fingerprint" => fingerprint = Some(str(&mut self.rest)?),
                _ => return Err(malformed("an unknown field in a dependency")),
            }
        }
        match (identity, fingerprint) {
            (Some(identity), Some(fingerprint)) => Ok(RawDep {
                identity,
                fingerprint,
            }),
            _ => Err(malformed("a dependency without identity or fingerprint")),
        }
    }
}

impl<'a> Iterator for RecordedDeps<'a> {
    type Item = Result<RawDep<'a>, EntryError>;

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

/// A string's bytes (not checked for UTF-8 here).
fn str<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], EntryError> {
    let len = match take(rest, 1)?[0] {
        marker @ 0xa0..=0xbf => u32::from(marker & 0x1f),
        0xd9 => len_of(rest, 1)?,
        0xda => len_of(rest, 2)?,
        0xdb => len_of(rest, 4)?,
        _ => return Err(malformed("not a string")),
    };
    take(rest, len as usize)
}

/// 32 hex digits, as [`hex_digits`] writes them.
pub(crate) fn parse_hex(digits: &[u8]) -> Option<u128> {
    hex(digits).ok()
}

/// 32 hex digits.
fn hex(digits: &[u8]) -> Result<u128, EntryError> {
    let digits = std::str::from_utf8(digits)
        .ok()
        .filter(|digits| digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| malformed("a fingerprint that is not 32 hex digits"))?;
    u128::from_str_radix(digits, 16).map_err(|_| malformed("a fingerprint that is not hex"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{DepRecord, EntryMeta};

    fn meta(deps: Vec<DepRecord>) -> Vec<u8> {
        let meta = EntryMeta {
            deps,
            ..EntryMeta::sample()
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
            .map(|dep| dep.unwrap().parsed().unwrap())
            .collect();
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
        let read: Result<Vec<_>, _> = RecordedDeps::of(&bad)
            .unwrap()
            .map(|dep| dep?.parsed())
            .collect();
        assert!(read.is_err());
    }

    #[test]
    fn hex_digits_are_what_the_metadata_holds() {
        for fingerprint in [0, 1, 0xabc, u128::MAX, 0x0123_4567_89ab_cdef << 64] {
            let digits = hex_digits(fingerprint);
            assert_eq!(digits.as_slice(), format!("{fingerprint:032x}").as_bytes());
            assert_eq!(hex(&digits).unwrap(), fingerprint);
        }
    }
}
