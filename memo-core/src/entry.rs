//! The on-disk entry format (documented in `docs/format.md`).
//!
//! An entry is one immutable file: a fixed header, then the metadata and the
//! output, both MessagePack. The header carries the entry's key and a checksum
//! over everything, so a truncated, bit-flipped, foreign or misplaced file is
//! detected before a single byte of it is decoded. Nothing in a file is
//! trusted: every length is checked against the file's real size first, so a
//! hostile file cannot make the decoder read out of bounds or allocate more
//! than the file holds.

use std::marker::PhantomData;

use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use crate::array::{BLOB_ALIGN, BlobReader, BlobRef, BlobWriter, MmapMode, PendingBlob, REF_LEN};

/// First eight bytes of every entry. The high byte and the CR LF / ^Z pair
/// (as in PNG) catch text-mode transfers and files that are not entries.
pub const MAGIC: [u8; 8] = *b"\x89MEMO\r\n\x1a";

/// The entry format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 80;

/// Where the checksum sits in the header; it covers every byte before it and
/// every byte after the header.
const CHECKSUM_AT: usize = 64;

#[cfg(test)]
pub(crate) use encode::encode_parts;
pub use encode::{EncodeError, Encoded, assemble, encode};
pub(crate) use encode::{encode_with, rekeyed};
pub use meta::{ArgRecord, DepRecord, EntryMeta, MissRecord, Origin};

/// Why bytes are not a usable entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Shorter than a header, or than the lengths the header announces.
    #[error("truncated entry ({actual} bytes, expected {expected})")]
    Truncated {
        /// Bytes present.
        actual: u64,
        /// Bytes the header announces.
        expected: u64,
    },
    /// Longer than the header announces: something was appended.
    #[error("entry has {extra} trailing bytes")]
    Trailing {
        /// Bytes past the announced end.
        extra: u64,
    },
    /// Does not start with the entry magic: not a memo entry.
    #[error("not a memo entry (bad magic)")]
    BadMagic,
    /// Written by another format version.
    #[error("entry format version {0} (this build reads version {FORMAT_VERSION})")]
    Version(u16),
    /// Flags this build does not know.
    #[error("entry uses unknown flags {0:#06x}")]
    Flags(u16),
    /// The checksum does not match: the bytes changed after they were written.
    #[error("checksum mismatch")]
    Checksum,
    /// A valid entry, but for another key: a file copied or renamed into place.
    #[error("entry belongs to another key")]
    ForeignKey,
    /// The metadata does not decode.
    #[error("metadata does not decode: {0}")]
    Meta(String),
    /// The output does not decode as the function's output type.
    #[error("output does not decode: {0}")]
    Output(String),
}

/// A verified entry, borrowing the bytes it was read from.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    key: u128,
    type_hash: u64,
    /// What was read of the file, from its start.
    bytes: &'a [u8],
    meta: &'a [u8],
    payload: &'a [u8],
    /// Where the arrays start in the file, and how many bytes they take.
    blobs_at: u64,
    blobs_len: u64,
    /// References to blobs in the store's blob area ([`REF_LEN`] bytes each).
    refs: &'a [u8],
    /// `Some(uncompressed length)` when the output is a zstd frame.
    zstd_raw_len: Option<u64>,
}

/// Where a verified entry's parts lie in its bytes: what
/// [`Entry::parse_verified`] finds, kept to make the same [`Entry`] again
/// without parsing (the in-process tier holds it beside the bytes).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    key: u128,
    type_hash: u64,
    meta: std::ops::Range<usize>,
    payload: std::ops::Range<usize>,
    refs: std::ops::Range<usize>,
    blobs_at: u64,
    blobs_len: u64,
    zstd_raw_len: Option<u64>,
}

impl Layout {
    /// The hash of the output type's name.
    pub(crate) fn type_hash(&self) -> u64 {
        self.type_hash
    }
}

/// Header flag: the output is one zstd frame (and holds its arrays
/// inline); the header's bytes 56..64 give its uncompressed length.
const FLAG_ZSTD: u16 = 1;

/// Header flag: the entry refers to blobs in the store's blob area; the
/// header's bytes 56..64 count the references, which follow the output.
const FLAG_REFS: u16 = 2;

/// The most a compressed output may expand, as a bound on what decoding
/// allocates: zstd's best ratios on real data are far below this.
const MAX_EXPANSION: u64 = 4096;

/// The fixed header's fields.
struct Header {
    flags: u16,
    /// With [`FLAG_ZSTD`]: the output's uncompressed length; with
    /// [`FLAG_REFS`], how many blob references follow the output.
    raw_len: u64,
    meta_len: u32,
    payload_len: u64,
    blobs_len: u64,
    key: u128,
    type_hash: u64,
}

impl Header {
    fn write(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&self.flags.to_le_bytes());
        out[12..16].copy_from_slice(&self.meta_len.to_le_bytes());
        out[16..24].copy_from_slice(&self.payload_len.to_le_bytes());
        out[24..32].copy_from_slice(&self.blobs_len.to_le_bytes());
        out[32..48].copy_from_slice(&self.key.to_le_bytes());
        out[48..56].copy_from_slice(&self.type_hash.to_le_bytes());
        out[56..64].copy_from_slice(&self.raw_len.to_le_bytes());
    }

    fn read(bytes: &[u8; HEADER_LEN]) -> Result<Header, EntryError> {
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if bytes[0..8] != MAGIC {
            return Err(EntryError::BadMagic);
        }
        let version = u16_at(8);
        if version != FORMAT_VERSION {
            return Err(EntryError::Version(version));
        }
        let flags = u16_at(10);
        if flags & !(FLAG_ZSTD | FLAG_REFS) != 0 || flags == FLAG_ZSTD | FLAG_REFS {
            return Err(EntryError::Flags(flags));
        }
        Ok(Header {
            flags,
            raw_len: u64_at(56),
            meta_len: u32_at(12),
            payload_len: u64_at(16),
            blobs_len: u64_at(24),
            key: u128::from_le_bytes(bytes[32..48].try_into().unwrap()),
            type_hash: u64_at(48),
        })
    }
}

fn checksum(header_head: &[u8], body: &[u8]) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(header_head);
    hasher.update(body);
    hasher.digest128()
}

/// Deepest nesting the decoder follows. Each level is a recursive call, and
/// 256 of them fit the smallest thread stack Rust gives (2 MiB) even in a
/// debug build; a deeper (hostile) input is an error, not a stack overflow.
/// An output nested deeper than this is stored but never served: it is
/// recomputed on every call.
pub const MAX_DEPTH: usize = 256;

/// Where a decoded output goes: a typed `Option<T>`, or the call path's
/// slot, whose type is erased (`call/stored.rs`).
pub(crate) trait DecodeOutput {
    /// Decodes an output from its MessagePack (with [`decode`]) and keeps it.
    fn decode_output(&mut self, msgpack: &[u8]) -> Result<(), rmp_serde::decode::Error>;
}

impl<T: serde::de::DeserializeOwned> DecodeOutput for Option<T> {
    fn decode_output(&mut self, msgpack: &[u8]) -> Result<(), rmp_serde::decode::Error> {
        *self = Some(decode(msgpack)?);
        Ok(())
    }
}

/// Decodes MessagePack from an entry, within [`MAX_DEPTH`].
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    let mut decoder = rmp_serde::Deserializer::from_read_ref(bytes);
    decoder.set_max_depth(MAX_DEPTH);
    T::deserialize(&mut decoder)
}

/// How many bytes from the start of an entry hold its header, metadata and
/// output, judging by a header at the start of `bytes` (unchecked: the
/// caller parses what it reads).
pub(crate) fn head_len(bytes: &[u8]) -> Option<u64> {
    let header = Header::read(bytes.first_chunk::<HEADER_LEN>()?).ok()?;
    (HEADER_LEN as u64)
        .checked_add(u64::from(header.meta_len))?
        .checked_add(header.payload_len)?
        .checked_add(header.refs_count().checked_mul(REF_LEN as u64)?)
}

impl Header {
    /// How many blob references follow the output.
    fn refs_count(&self) -> u64 {
        if self.flags & FLAG_REFS != 0 {
            self.raw_len
        } else {
            0
        }
    }
}

/// The metadata of the entry at the start of `bytes`, without checking the
/// checksum: only to *explain* a miss (which stored calls are near), never
/// to serve one. Every length is checked against `bytes`.
pub(crate) fn unverified_meta(bytes: &[u8]) -> Option<EntryMeta> {
    let end = usize::try_from(meta_end(bytes)?).ok()?;
    decode(bytes.get(HEADER_LEN..end)?).ok()
}

/// Where the metadata ends, judging by a header at the start of `bytes`
/// (unchecked, like [`head_len`]).
pub(crate) fn meta_end(bytes: &[u8]) -> Option<u64> {
    let header = Header::read(bytes.first_chunk::<HEADER_LEN>()?).ok()?;
    (HEADER_LEN as u64).checked_add(u64::from(header.meta_len))
}

/// The hash of an output type's name, as stored in the header.
pub fn type_hash(type_name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(type_name.as_bytes())
}

impl<'a> Entry<'a> {
    /// Checks a whole entry file, `bytes`, completely (header, lengths,
    /// checksums of the head) without decoding anything. `expected_key`
    /// guards against foreign files.
    pub fn parse(bytes: &'a [u8], expected_key: Option<u128>) -> Result<Entry<'a>, EntryError> {
        Entry::parse_head(bytes, bytes.len() as u64, expected_key)
    }

    /// Checks an entry of `file_len` bytes of which `bytes` holds the start:
    /// at least the header, metadata and output (the arrays after them are
    /// read or mapped only when decoded, and checked then).
    pub fn parse_head(
        bytes: &'a [u8],
        file_len: u64,
        expected_key: Option<u128>,
    ) -> Result<Entry<'a>, EntryError> {
        Entry::parse_with(bytes, file_len, expected_key, true)
    }

    /// [`Entry::parse_head`] for bytes that passed it already and have not
    /// changed since: the lengths are checked again (cheap), the checksum is
    /// not recomputed. The call path parses an entry when it reads it and
    /// again when it decodes it; the checksum is paid once.
    pub(crate) fn parse_verified(bytes: &'a [u8], file_len: u64) -> Result<Entry<'a>, EntryError> {
        Entry::parse_with(bytes, file_len, None, false)
    }

    fn parse_with(
        bytes: &'a [u8],
        file_len: u64,
        expected_key: Option<u128>,
        verify_checksum: bool,
    ) -> Result<Entry<'a>, EntryError> {
        let Some((head, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(if bytes.starts_with(&MAGIC) || MAGIC.starts_with(bytes) {
                EntryError::Truncated {
                    actual: file_len,
                    expected: HEADER_LEN as u64,
                }
            } else {
                EntryError::BadMagic
            });
        };
        let header = Header::read(head)?;
        // Lengths are checked in u128 so no announced size can overflow.
        let refs_len = u128::from(header.refs_count()) * REF_LEN as u128;
        let head_len = HEADER_LEN as u128
            + u128::from(header.meta_len)
            + u128::from(header.payload_len)
            + refs_len;
        let announced = match header.blobs_len {
            0 => head_len,
            blobs => head_len.next_multiple_of(u128::from(BLOB_ALIGN)) + u128::from(blobs),
        };
        let present = u128::from(file_len);
        if announced > present || head_len > bytes.len() as u128 {
            let expected = u64::try_from(announced).unwrap_or(u64::MAX);
            return Err(EntryError::Truncated {
                actual: file_len,
                expected,
            });
        }
        if announced < present {
            return Err(EntryError::Trailing {
                extra: (present - announced) as u64,
            });
        }
        let head_len = head_len as usize;
        let body = &body[..head_len - HEADER_LEN];
        let stored_sum = u128::from_le_bytes(head[CHECKSUM_AT..].try_into().unwrap());
        if verify_checksum && checksum(&head[..CHECKSUM_AT], body) != stored_sum {
            return Err(EntryError::Checksum);
        }
        if expected_key.is_some_and(|key| key != header.key) {
            return Err(EntryError::ForeignKey);
        }
        let (meta, payload) = body.split_at(header.meta_len as usize);
        let (payload, refs) = payload.split_at(payload.len() - refs_len as usize);
        Ok(Entry {
            key: header.key,
            type_hash: header.type_hash,
            bytes,
            meta,
            payload,
            blobs_at: (head_len as u64).next_multiple_of(BLOB_ALIGN),
            blobs_len: header.blobs_len,
            refs,
            zstd_raw_len: (header.flags & FLAG_ZSTD != 0).then_some(header.raw_len),
        })
    }

    /// Where this entry's parts lie in the bytes it was parsed from.
    pub(crate) fn layout(&self) -> Layout {
        let range = |part: &[u8]| {
            let start = part.as_ptr() as usize - self.bytes.as_ptr() as usize;
            start..start + part.len()
        };
        Layout {
            key: self.key,
            type_hash: self.type_hash,
            meta: range(self.meta),
            payload: range(self.payload),
            refs: range(self.refs),
            blobs_at: self.blobs_at,
            blobs_len: self.blobs_len,
            zstd_raw_len: self.zstd_raw_len,
        }
    }

    /// The entry `layout` describes, in the same `bytes` it was taken from
    /// (slicing panics if they are not: a bug, never input-dependent).
    pub(crate) fn at(bytes: &'a [u8], layout: &Layout) -> Entry<'a> {
        Entry {
            key: layout.key,
            type_hash: layout.type_hash,
            bytes,
            meta: &bytes[layout.meta.clone()],
            payload: &bytes[layout.payload.clone()],
            blobs_at: layout.blobs_at,
            blobs_len: layout.blobs_len,
            refs: &bytes[layout.refs.clone()],
            zstd_raw_len: layout.zstd_raw_len,
        }
    }

    /// Decodes the output with its arrays coming back as `mode` says, the
    /// blobs read from or mapped from `file` or the store's `blob_area`.
    pub(crate) fn output_from<T: serde::de::DeserializeOwned>(
        &self,
        file: Option<&std::fs::File>,
        mode: Option<MmapMode>,
        blob_area: Option<&dyn BlobReader>,
    ) -> Result<T, EntryError> {
        let mut output = None::<T>;
        self.output_into(file, mode, blob_area, &mut output)?;
        output.ok_or_else(|| EntryError::Output("not decoded".into()))
    }

    /// [`Entry::output_from`] into `output`, which decodes the output's
    /// MessagePack (arrays readable while it does): not generic, so the
    /// call path that decodes outputs of any type is compiled once, here.
    /// `#[inline]`: on the hit path, into its caller.
    #[inline]
    pub(crate) fn output_into(
        &self,
        file: Option<&std::fs::File>,
        mode: Option<MmapMode>,
        blob_area: Option<&dyn BlobReader>,
        output: &mut dyn DecodeOutput,
    ) -> Result<(), EntryError> {
        let source = crate::array::Source {
            file,
            bytes: self.bytes,
            blobs_at: self.blobs_at,
            blobs_len: self.blobs_len,
            refs: self.refs,
            blob_area,
            mode,
            shared: Default::default(),
        };
        if let Some(raw_len) = self.zstd_raw_len {
            // Arrays of a compressed output are inline: no source to open.
            return output
                .decode_output(&self.decompressed(raw_len)?)
                .map_err(|e| EntryError::Output(e.to_string()));
        }
        crate::array::with_source(&source, || output.decode_output(self.payload))
            .map_err(|e| EntryError::Output(e.to_string()))
    }

    /// The output of a compressed entry, uncompressed, allocating no more
    /// than its header announces — and refusing announcements no real
    /// compression ratio explains.
    fn decompressed(&self, raw_len: u64) -> Result<Vec<u8>, EntryError> {
        let plausible = (self.payload.len() as u64)
            .saturating_mul(MAX_EXPANSION)
            .saturating_add(1 << 20);
        if raw_len > plausible {
            return Err(EntryError::Output(format!(
                "implausible uncompressed length {raw_len}"
            )));
        }
        let raw = zstd::bulk::decompress(self.payload, raw_len as usize)
            .map_err(|e| EntryError::Output(format!("zstd: {e}")))?;
        if raw.len() as u64 != raw_len {
            return Err(EntryError::Output(
                "uncompressed length differs from the header".into(),
            ));
        }
        Ok(raw)
    }

    /// The output uncompressed, when it is compressed (`None` when not).
    pub(crate) fn uncompressed_output(&self) -> Result<Option<Vec<u8>>, EntryError> {
        self.zstd_raw_len
            .map(|raw_len| self.decompressed(raw_len))
            .transpose()
    }

    /// Whether the output is compressed.
    pub fn is_compressed(&self) -> bool {
        self.zstd_raw_len.is_some()
    }

    /// Whether the output holds out-of-line arrays (in the entry, or in
    /// the store's blob area).
    pub fn has_blobs(&self) -> bool {
        self.blobs_len > 0 || !self.refs.is_empty()
    }

    /// The blobs in the store's blob area that this entry refers to.
    pub fn blob_refs(&self) -> impl Iterator<Item = BlobRef> + '_ {
        BlobRef::decode_all(self.refs)
    }

    /// The key this entry was stored under.
    pub fn key(&self) -> u128 {
        self.key
    }

    /// The hash of the output type's name.
    pub fn type_hash(&self) -> u64 {
        self.type_hash
    }

    /// Decodes the metadata.
    pub fn meta(&self) -> Result<EntryMeta, EntryError> {
        decode(self.meta).map_err(|e| EntryError::Meta(e.to_string()))
    }

    /// The encoded metadata (MessagePack), for readers that look at one
    /// field without decoding the rest (`entry/deps.rs`).
    pub(crate) fn meta_bytes(&self) -> &'a [u8] {
        self.meta
    }

    /// Decodes the metadata as `T`: all of it, or only the fields `T` names.
    pub(crate) fn meta_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, EntryError> {
        decode(self.meta).map_err(|e| EntryError::Meta(e.to_string()))
    }

    /// Decodes the output; its arrays are copied from the entry's bytes and
    /// checked against their checksums (so `bytes` must be the whole file).
    pub fn output<T: serde::de::DeserializeOwned>(&self) -> Result<T, EntryError> {
        self.output_from(None, None, None)
    }

    /// Bytes of the encoded output.
    pub fn output_len(&self) -> usize {
        self.payload.len()
    }
}

pub(crate) mod deps;
mod encode;
mod meta;
#[cfg(test)]
mod tests;
