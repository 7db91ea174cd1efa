//! How arrays leave the MessagePack stream and come back.
//!
//! While an entry is encoded, a per-thread *sink* is open: an [`Array`]
//! serialized then does not write its elements into the stream; it records
//! its bytes as a *blob* (written after the payload, 64-byte aligned) and
//! writes a small marker instead, a MessagePack ext value holding the blob's
//! offset, length, element type and digest. While an entry is decoded, a
//! per-thread *source* is open: an `Array` deserialized then reads its
//! marker and turns the blob into a memory map or a checked copy.
//!
//! An array of [`LARGE_RUN`] bytes or more, encoded for a store that keeps
//! blobs by content (a cache directory), goes to the store's blob area
//! instead, named by its digest and stored once whoever produced it; its
//! marker (ext `0x43`) names the digest, and the entry lists the digests it
//! refers to (see `docs/format.md`). A blob that cannot be stored there is
//! written inline like a small one.
//!
//! Outside both (hashing, rendering, other formats) an `Array` is a plain
//! sequence of numbers.
//!
//! [`Array`]: super::Array

use std::cell::{Cell, OnceCell};
use std::fs::File;
use std::io;
use std::sync::Arc;

use memmap2::Mmap;

use super::{Dtype, MmapMode};
use crate::hash::{Digest, LARGE_RUN, run_digest};

/// The MessagePack ext type of an array marker: a blob in the entry.
pub(crate) const MARKER_EXT: i8 = 0x4D;

/// The MessagePack ext type of a marker of a blob in the blob area.
pub(crate) const STORED_EXT: i8 = 0x43;

/// Bytes of a stored blob's marker: length (u64), digest (u128), element
/// type.
const STORED_LEN: usize = 25;

/// Bytes of one of an entry's blob references: digest (u128), length (u64).
pub(crate) const REF_LEN: usize = 24;

/// A blob in a store's blob area that an entry refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobRef {
    /// The blob's [`run_digest`], which names it.
    pub digest: Digest,
    /// Its length in bytes.
    pub len: u64,
}

impl BlobRef {
    /// The reference as stored in an entry.
    pub(crate) fn encode(&self) -> [u8; REF_LEN] {
        let mut bytes = [0; REF_LEN];
        bytes[..16].copy_from_slice(&self.digest.to_le_bytes());
        bytes[16..].copy_from_slice(&self.len.to_le_bytes());
        bytes
    }

    /// The references stored in `bytes` (a multiple of [`REF_LEN`]).
    pub(crate) fn decode_all(bytes: &[u8]) -> impl Iterator<Item = BlobRef> + '_ {
        bytes.chunks_exact(REF_LEN).map(|one| BlobRef {
            digest: u128::from_le_bytes(one[..16].try_into().unwrap()),
            len: u64::from_le_bytes(one[16..].try_into().unwrap()),
        })
    }
}

/// A store's blob area, as the encoder writes to it.
pub(crate) trait BlobWriter {
    /// Stores `bytes` as the blob of their digest, unless it exists, and
    /// returns the digest. `known`: the digest, if the caller knows it.
    fn put(&self, bytes: &[u8], known: Option<Digest>) -> io::Result<Digest>;
}

/// A store's blob area, as the decoder reads from it.
pub(crate) trait BlobReader {
    /// Opens the blob of `digest`, with its length; `None` if there is none.
    fn open(&self, digest: Digest) -> io::Result<Option<(File, u64)>>;
    /// The blob of `digest` does not match its digest: it goes, so that the
    /// recomputation stores it again.
    fn corrupt(&self, digest: Digest);
}

/// Bytes of a marker: offset, length (u64 each), digest (u128), element
/// type.
pub(crate) const MARKER_LEN: usize = 33;

/// Blobs start at multiples of this (in the file, and so in a memory map,
/// whose base is page-aligned): enough for every element type and for SIMD.
pub const BLOB_ALIGN: u64 = 64;

/// What keeps a blob's bytes alive and unchanged while it waits to be
/// written: the storage of the array it came from, shared (an `Arc` of its
/// `Vec` or of its map). An array is written to only through
/// `Array::make_mut`, which copies storage that is shared, so these bytes
/// never change under the blob, whatever the user's code does meanwhile
/// (drop the array, serialize a temporary, mutate it through a `RefCell`).
pub(crate) type BlobOwner = Arc<dyn std::any::Any>;

/// A blob waiting to be written.
pub(crate) struct PendingBlob {
    /// Keeps the bytes at `ptr` alive and unchanged (see [`BlobOwner`]).
    _owner: BlobOwner,
    ptr: *const u8,
    len: usize,
    /// Offset from the start of the blob section.
    pub offset: u64,
}

impl std::fmt::Debug for PendingBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBlob")
            .field("len", &self.len)
            .field("offset", &self.offset)
            .finish()
    }
}

impl PendingBlob {
    /// The blob's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr`/`len` came from one slice of the storage `_owner`
        // holds; that storage is neither freed (the `Arc` is ours) nor
        // written (writes copy shared storage first) while `self` lives, and
        // the slice returned is tied to `&self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Where a marker points, as decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marker {
    /// In the blob area (no offset), or in the entry.
    pub stored: bool,
    pub offset: u64,
    pub len: u64,
    /// The bytes' [`run_digest`]: their checksum,
    /// and what the array carries for hashing.
    pub digest: Digest,
    pub dtype: u8,
}

impl Marker {
    /// The ext type and bytes of the marker.
    pub(crate) fn encode(&self) -> (i8, Vec<u8>) {
        let mut bytes = Vec::with_capacity(MARKER_LEN);
        if !self.stored {
            bytes.extend_from_slice(&self.offset.to_le_bytes());
        }
        bytes.extend_from_slice(&self.len.to_le_bytes());
        bytes.extend_from_slice(&self.digest.to_le_bytes());
        bytes.push(self.dtype);
        (if self.stored { STORED_EXT } else { MARKER_EXT }, bytes)
    }

    /// The marker of ext type `ext` with `bytes`; `None` if it is none.
    pub(crate) fn decode(ext: i8, bytes: &[u8]) -> Option<Marker> {
        if ext == STORED_EXT {
            let bytes: &[u8; STORED_LEN] = bytes.try_into().ok()?;
            return Some(Marker {
                stored: true,
                offset: 0,
                len: u64::from_le_bytes(bytes[0..8].try_into().unwrap()),
                digest: u128::from_le_bytes(bytes[8..24].try_into().unwrap()),
                dtype: bytes[24],
            });
        }
        if ext != MARKER_EXT {
            return None;
        }
        let bytes: &[u8; MARKER_LEN] = bytes.try_into().ok()?;
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        Some(Marker {
            stored: false,
            offset: u64_at(0),
            len: u64_at(8),
            digest: u128::from_le_bytes(bytes[16..32].try_into().unwrap()),
            dtype: bytes[32],
        })
    }
}

/// The blobs of the entry being encoded on this thread.
struct Sink {
    blobs: Vec<PendingBlob>,
    end: u64,
    /// The store's blob area, if it has one; borrowed for the duration of
    /// [`collect`], which clears it before returning.
    writer: Option<*const (dyn BlobWriter + 'static)>,
    /// The blobs written there, each once.
    refs: Vec<BlobRef>,
}

/// What [`collect`] gathered.
pub(crate) struct Collected {
    /// Blobs to write after the entry's output, in offset order.
    pub inline: Vec<PendingBlob>,
    /// Blobs written to the blob area, which the entry refers to.
    pub refs: Vec<BlobRef>,
}

thread_local! {
    static SINK: std::cell::RefCell<Option<Sink>> = const { std::cell::RefCell::new(None) };
    static SOURCE: Cell<*const Source<'static>> = const { Cell::new(std::ptr::null()) };
}

/// Runs `encode` with a sink open; returns its result and the blobs that
/// arrays handed to the sink. Large ones go to `writer` as they come, if
/// given.
pub(crate) fn collect<R>(
    writer: Option<&dyn BlobWriter>,
    encode: impl FnOnce() -> R,
) -> (R, Collected) {
    // SAFETY (of the erasure): the pointer is only followed by `push`
    // while the sink is open, i.e. inside this call, which borrows `writer`.
    let writer = writer.map(|writer| {
        let erased: *const (dyn BlobWriter + '_) = writer;
        // SAFETY: only the lifetime changes; see above.
        unsafe {
            std::mem::transmute::<*const (dyn BlobWriter + '_), *const (dyn BlobWriter + 'static)>(
                erased,
            )
        }
    });
    // A user's `Serialize` may panic inside `encode`, and a thread pool
    // may catch that: the guard closes the sink on unwind too, or every
    // later serialization of an `Array` on this thread would write a marker
    // (and every hash of one would differ).
    struct Restore(Option<Option<Sink>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                SINK.with(|sink| *sink.borrow_mut() = previous);
            }
        }
    }
    let mut restore = Restore(Some(SINK.with(|sink| {
        sink.replace(Some(Sink {
            blobs: Vec::new(),
            end: 0,
            writer,
            refs: Vec::new(),
        }))
    })));
    let result = encode();
    let previous = restore.0.take().expect("restored only here or on unwind");
    let sink = SINK
        .with(|sink| sink.replace(previous))
        .expect("the sink is still open");
    let collected = Collected {
        inline: sink.blobs,
        refs: sink.refs,
    };
    (result, collected)
}

/// Hands `bytes`, which `owner` keeps alive and unchanged, to the open
/// sink; `None` when no entry is being encoded. `known`: their digest, if
/// the array carries it.
pub(crate) fn push(
    bytes: &[u8],
    dtype: Dtype,
    known: Option<Digest>,
    owner: impl FnOnce() -> BlobOwner,
) -> Option<Marker> {
    SINK.with(|sink| {
        let mut sink = sink.try_borrow_mut().ok()?;
        let sink = sink.as_mut()?;
        if bytes.is_empty() {
            // Nothing to write: a marker of length 0 needs no blob.
            return Some(Marker {
                stored: false,
                offset: 0,
                len: 0,
                digest: run_digest(bytes),
                dtype: dtype as u8,
            });
        }
        if bytes.len() >= LARGE_RUN
            && let Some(writer) = sink.writer
        {
            // SAFETY: set by `collect` from a borrow that outlives the sink.
            let writer = unsafe { &*writer };
            // A blob the area cannot take is written inline instead.
            if let Ok(digest) = writer.put(bytes, known) {
                let blob = BlobRef {
                    digest,
                    len: bytes.len() as u64,
                };
                if !sink.refs.contains(&blob) {
                    sink.refs.push(blob);
                }
                return Some(Marker {
                    stored: true,
                    offset: 0,
                    len: blob.len,
                    digest,
                    dtype: dtype as u8,
                });
            }
        }
        let offset = sink.end.next_multiple_of(BLOB_ALIGN);
        sink.end = offset + bytes.len() as u64;
        sink.blobs.push(PendingBlob {
            _owner: owner(),
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            offset,
        });
        let digest = known.unwrap_or_else(|| run_digest(bytes));
        Some(Marker {
            stored: false,
            offset,
            len: bytes.len() as u64,
            digest,
            dtype: dtype as u8,
        })
    })
}

/// The entry being decoded on this thread, for arrays to find their blobs.
pub(crate) struct Source<'a> {
    /// The entry file, for mapping and for reading blobs not in `bytes`;
    /// `None` when `bytes` is the whole file.
    pub file: Option<&'a File>,
    /// The start of the file as read (at least the header, metadata and
    /// payload; the whole file for small entries).
    pub bytes: &'a [u8],
    /// Where the blob section starts in the file, and its length.
    pub blobs_at: u64,
    pub blobs_len: u64,
    /// The entry's references to blobs in the store's blob area.
    pub refs: &'a [u8],
    /// The store's blob area, if it has one.
    pub blob_area: Option<&'a dyn BlobReader>,
    /// How arrays come back: memory-mapped, or `None` for a checked copy.
    pub mode: Option<MmapMode>,
    /// The read-only map of the whole file, shared by its arrays.
    pub shared: OnceCell<Arc<Mmap>>,
}

/// Runs `decode` with `source` open for the arrays it meets.
pub(crate) fn with_source<R>(source: &Source<'_>, decode: impl FnOnce() -> R) -> R {
    // The pointer is only read while `source` is borrowed by this call; the
    // guard restores the previous one even if `decode` panics.
    struct Restore(*const Source<'static>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SOURCE.with(|current| current.set(self.0));
        }
    }
    let erased = (source as *const Source<'_>).cast::<Source<'static>>();
    let _restore = Restore(SOURCE.with(|current| current.replace(erased)));
    decode()
}

/// Calls `read` with the source open on this thread, if any.
pub(crate) fn with_current<R>(read: impl FnOnce(Option<&Source<'_>>) -> R) -> R {
    let current = SOURCE.with(Cell::get);
    // SAFETY: a non-null pointer was set by `with_source`, whose borrow of
    // the source outlives every decode that runs inside it.
    read(unsafe { current.as_ref() })
}
