//! Writing entries: the header, metadata and output encoded, arrays out of
//! line, the checksum sealed.

use super::*;

/// An encoded entry, ready to write: the head (header, metadata, output)
/// and the arrays of the output, written after it out of line.
///
/// The arrays are not copied: the blobs point into the output the entry was
/// encoded from, which `'a` borrows, so an `Encoded` cannot outlive that
/// output, nor can the output be moved, dropped or changed through a
/// `&mut` while it exists.
#[derive(Debug)]
pub struct Encoded<'a> {
    head: Vec<u8>,
    blobs: Vec<PendingBlob>,
    /// Blobs in the store's blob area the entry refers to.
    refs: usize,
    /// Their bytes, all together.
    referenced_len: u64,
    /// The bytes of the whole file: head, padding and blobs.
    file_len: u64,
    output: PhantomData<&'a ()>,
}

/// Zeros to pad blobs to their alignment.
const PADDING: [u8; BLOB_ALIGN as usize] = [0; BLOB_ALIGN as usize];

impl Encoded<'_> {
    /// The bytes of the entry, in file order: the head, then padding and
    /// each array, as slices of the output it was encoded from.
    pub(crate) fn parts(&self) -> Vec<&[u8]> {
        let mut parts = vec![self.head.as_slice()];
        let mut at = self.head.len() as u64;
        let blobs_at = at.next_multiple_of(BLOB_ALIGN);
        for blob in &self.blobs {
            let start = blobs_at + blob.offset;
            parts.push(&PADDING[..(start - at) as usize]);
            let bytes = blob.bytes();
            parts.push(bytes);
            at = start + bytes.len() as u64;
        }
        parts
    }

    /// Size of the entry file.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The bytes the entry takes in a cache: its file, and the blobs of
    /// the store's blob area it refers to (counted even where a blob was
    /// there already: this is what the automatic limits count towards
    /// their next check, and sooner is the safe side).
    pub fn stored_len(&self) -> u64 {
        self.file_len + self.referenced_len
    }

    /// Whether the entry holds out-of-line arrays (in the entry, or in the
    /// blob area).
    pub fn has_blobs(&self) -> bool {
        !self.blobs.is_empty() || self.refs > 0
    }
}

/// Encodes an entry: header, metadata, output, and the output's arrays out
/// of line. The arrays are not copied: the [`Encoded`] borrows them from
/// `output`, so the borrow checker keeps it from outliving `output`.
///
/// With `zstd_level`, the output is compressed as one zstd frame, arrays
/// included (inline: a compressed array cannot be memory-mapped).
///
/// Soundness rests on a premise the types do not state: every [`Array`]
/// serialized while `output` is encoded is part of `output`, not a temporary
/// that a hand-written `Serialize` impl builds and drops mid-encoding (its
/// blob would point into freed memory), and none sits behind a `RefCell`
/// that is changed while the `Encoded` exists.
///
/// [`Array`]: crate::Array
pub(crate) fn encode_parts<'a, T: Serialize + ?Sized>(
    key: u128,
    type_hash: u64,
    meta: &EntryMeta,
    output: &'a T,
    zstd_level: Option<i32>,
    blob_area: Option<&dyn BlobWriter>,
) -> Result<Encoded<'a>, EncodeError> {
    let mut write = |out: &mut Vec<u8>| rmp_serde::encode::write_named(out, output);
    encode_with(key, type_hash, meta, &mut write, zstd_level, blob_area)
}

/// [`encode_parts`] with the output behind `write_output`, which appends it
/// as MessagePack: not generic, so the call path that stores outputs of
/// any type is compiled once, here. The [`Encoded`] borrows what
/// `write_output` borrows (`'a`): the output its arrays point into.
pub(crate) fn encode_with<'a>(
    key: u128,
    type_hash: u64,
    meta: &EntryMeta,
    write_output: &mut (dyn FnMut(&mut Vec<u8>) -> Result<(), rmp_serde::encode::Error> + 'a),
    zstd_level: Option<i32>,
    blob_area: Option<&dyn BlobWriter>,
) -> Result<Encoded<'a>, EncodeError> {
    let mut head = vec![0; HEADER_LEN];
    rmp_serde::encode::write_named(&mut head, meta)?;
    let meta_len = head.len() - HEADER_LEN;
    if let Some(level) = zstd_level {
        let mut raw = Vec::new();
        write_output(&mut raw)?;
        head.extend_from_slice(&zstd::bulk::compress(&raw, level)?);
        seal(
            &mut head,
            key,
            type_hash,
            meta_len,
            0,
            Layout::Zstd(raw.len() as u64),
        );
        return Ok(Encoded {
            file_len: head.len() as u64,
            head,
            blobs: Vec::new(),
            refs: 0,
            referenced_len: 0,
            output: PhantomData,
        });
    }
    let (written, collected) = crate::array::collect(blob_area, || write_output(&mut head));
    written?;
    let blobs = collected.inline;
    let blobs_len = blobs
        .last()
        .map_or(0, |blob| blob.offset + blob.bytes().len() as u64);
    let refs = collected.refs.len();
    let referenced_len = collected.refs.iter().map(|blob| blob.len).sum();
    for blob in &collected.refs {
        head.extend_from_slice(&blob.encode());
    }
    seal(
        &mut head,
        key,
        type_hash,
        meta_len,
        blobs_len,
        Layout::Refs(refs as u64),
    );
    let file_len = if blobs.is_empty() {
        head.len() as u64
    } else {
        (head.len() as u64).next_multiple_of(BLOB_ALIGN) + blobs_len
    };
    Ok(Encoded {
        head,
        blobs,
        refs,
        referenced_len,
        file_len,
        output: PhantomData,
    })
}

/// Why an output could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Its `Serialize` impl failed, or MessagePack cannot represent it.
    #[error(transparent)]
    Serialize(#[from] rmp_serde::encode::Error),
    /// Compression failed.
    #[error("zstd: {0}")]
    Compress(#[from] std::io::Error),
}

/// Encodes an entry into one buffer (arrays included): for tools and tests.
pub fn encode<T: Serialize + ?Sized>(
    key: u128,
    type_hash: u64,
    meta: &EntryMeta,
    output: &T,
) -> Result<Vec<u8>, EncodeError> {
    let encoded = encode_parts(key, type_hash, meta, output, None, None)?;
    Ok(encoded.parts().concat())
}

/// Builds an entry from already-encoded metadata and output bytes, with a
/// valid header and checksum whatever the bytes are: for tools, and for
/// tests and fuzzers that need the decoders behind the checksum to see
/// arbitrary input.
pub fn assemble(key: u128, type_hash: u64, meta: &[u8], output: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + meta.len() + output.len());
    bytes.resize(HEADER_LEN, 0);
    bytes.extend_from_slice(meta);
    bytes.extend_from_slice(output);
    seal(&mut bytes, key, type_hash, meta.len(), 0, Layout::Refs(0));
    bytes
}

/// What follows the metadata besides the output.
#[derive(Clone, Copy)]
enum Layout {
    /// The output is a zstd frame of this many uncompressed bytes.
    Zstd(u64),
    /// The output, then this many blob references.
    Refs(u64),
}

/// Fills in the header of `bytes` (header space, then `meta_len` bytes of
/// metadata, then the output) and its checksum; `blobs_len` bytes of arrays
/// follow, from the next multiple of [`BLOB_ALIGN`]. `layout`: whether the
/// output is compressed, or how many blob references end `bytes`.
fn seal(
    bytes: &mut [u8],
    key: u128,
    type_hash: u64,
    meta_len: usize,
    blobs_len: u64,
    layout: Layout,
) {
    let (flags, raw_len, refs_len) = match layout {
        Layout::Zstd(raw_len) => (FLAG_ZSTD, raw_len, 0),
        Layout::Refs(0) => (0, 0, 0),
        Layout::Refs(count) => (FLAG_REFS, count, count as usize * REF_LEN),
    };
    let payload_len = bytes.len() - HEADER_LEN - meta_len - refs_len;
    let header = Header {
        flags,
        raw_len,
        meta_len: u32::try_from(meta_len).expect("metadata over 4 GiB"),
        payload_len: payload_len as u64,
        blobs_len,
        key,
        type_hash,
    };
    header.write(&mut bytes[..HEADER_LEN]);
    write_checksum(bytes, bytes.len());
}

/// Writes the checksum of the entry head in `bytes` (its first `head_len`
/// bytes: header, metadata, output) into its header.
fn write_checksum(bytes: &mut [u8], head_len: usize) {
    let (head, body) = bytes.split_at_mut(HEADER_LEN);
    let sum = checksum(&head[..CHECKSUM_AT], &body[..head_len - HEADER_LEN]);
    head[CHECKSUM_AT..].copy_from_slice(&sum.to_le_bytes());
}

/// The entry `bytes` (all of its file) under another key: the header's
/// key replaced and the checksum sealed again. `None` if `bytes` is not a
/// whole, verified entry.
pub(crate) fn rekeyed(bytes: &[u8], key: u128) -> Option<Vec<u8>> {
    let entry = Entry::parse_head(bytes, bytes.len() as u64, None).ok()?;
    let head_len = HEADER_LEN + entry.meta.len() + entry.payload.len();
    let mut copy = bytes.to_vec();
    copy[32..48].copy_from_slice(&key.to_le_bytes());
    write_checksum(&mut copy, head_len);
    Some(copy)
}
