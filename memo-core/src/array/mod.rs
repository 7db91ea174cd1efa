//! [`Array<T>`]: numeric arrays stored out of line, aligned, and handed back
//! as memory maps.
//!
//! Inside a cached function's output (alone, or anywhere inside a struct,
//! a tuple, a `Vec`…), an `Array` is not encoded element by element: its
//! bytes are written after the entry's MessagePack payload, 64-byte aligned
//! (see `blobs.rs` and `docs/format.md`). On a hit it comes back as
//! [`Memory::mmap_mode`](crate::Memory::mmap_mode) says: a read-only view
//! into a shared map of the entry, a private copy-on-write map, or (without
//! a mode) a copy checked against the blob's digest. No mode can write
//! into the cache. As an argument, an `Array` hashes straight from memory;
//! one that came from a cache (a hit, or the result of a miss, which is read
//! back from its new entry) carries the digest of its bytes, so passing it to
//! another cached function costs no hashing at all, whatever its size (see
//! [`Array::digest`]).
//!
//! ```
//! use std::sync::LazyLock;
//! use memory::{Array, Memory, MmapMode};
//!
//! static CACHE: LazyLock<Memory> = LazyLock::new(|| {
//!     Memory::new(std::env::temp_dir().join("memo-doc-array")).mmap_mode(MmapMode::ReadOnly)
//! });
//!
//! #[memory::cache(memory = CACHE)]
//! fn square(a: Array<f64>) -> Array<f64> {
//!     a.iter().map(|x| x * x).collect()
//! }
//!
//! let a: Array<f64> = vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 4.0, 2.0, 1.0].into();
//! let res = square(a.clone());
//! assert!(res.is_mapped()); // the miss returns what every hit will: a map
//! println!("{res:?}");      // memmap([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 16.0, 4.0, 1.0])
//! assert_eq!(square(a)[6], 16.0);
//! # CACHE.clear().unwrap();
//! ```

mod blobs;
mod element;
mod load;
#[cfg(feature = "ndarray")]
mod nd;

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use memmap2::{Mmap, MmapMut, MmapOptions};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use blobs::Marker;
pub use blobs::{BLOB_ALIGN, BlobRef};
pub(crate) use blobs::{
    BlobReader, BlobWriter, PendingBlob, REF_LEN, Source, collect, with_source,
};
use element::as_bytes;
pub use element::{Dtype, Element};

use crate::hash::{Digest, LARGE_RUN};
#[cfg(feature = "ndarray")]
pub use nd::NdArray;

/// How arrays in cached outputs come back from the cache (joblib's
/// `mmap_mode`, without the modes that could write into the cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmapMode {
    /// joblib's `'r'`: a view into a shared, read-only map of the entry.
    /// Writing asks for a private copy first ([`Array::make_mut`]).
    ReadOnly,
    /// joblib's `'c'`: a private copy-on-write map. Writable; writes stay in
    /// this process's memory and never reach the file.
    CopyOnWrite,
}

/// A one-dimensional array of numbers that a cache stores out of line and
/// can hand back memory-mapped (see the [module docs](self)).
///
/// It derefs to `[T]`. Mutable access goes through [`Array::make_mut`],
/// which copies a read-only map into memory first, so a cached entry is never
/// written.
pub struct Array<T: Element> {
    data: Data<T>,
    /// The [`run_digest`](crate::hash::run_digest) of the elements' bytes,
    /// when known: from the entry the array was read from, or set when the
    /// array was stored. Forgotten by [`Array::make_mut`].
    digest: OnceLock<Digest>,
}

enum Data<T> {
    /// In memory. Shared (an `Arc`) so that an entry being written can keep
    /// the elements it points to alive; writes copy them first if shared.
    Owned(Arc<Vec<T>>),
    /// `len` elements at byte `start` of a map shared by the arrays of one
    /// entry.
    Shared {
        map: Arc<Mmap>,
        start: usize,
        len: usize,
    },
    /// `len` elements at byte `start` of memory this array owns and may
    /// write: a private copy-on-write map of the entry (`of_entry`), or
    /// anonymous memory a large array was read into (see `load.rs`).
    Private {
        map: Arc<MmapMut>,
        start: usize,
        len: usize,
        of_entry: bool,
    },
}

impl<T: Element> Array<T> {
    /// An array that owns `values`.
    pub fn from_vec(values: Vec<T>) -> Self {
        Array {
            data: Data::Owned(Arc::new(values)),
            digest: OnceLock::new(),
        }
    }

    /// The [`run_digest`](crate::hash::run_digest) of the elements' bytes,
    /// if the array knows it: an array read from a cache or stored in one
    /// does (the digest is stored with it, and checked when the array is read
    /// into memory), one built in memory and not stored yet, or changed
    /// through [`make_mut`](Self::make_mut), does not. A large array that
    /// knows it is hashed as an argument in O(1): the digest is what hashing
    /// its bytes would give.
    pub fn digest(&self) -> Option<Digest> {
        self.digest.get().copied()
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        match &self.data {
            Data::Owned(values) => values.as_slice(),
            Data::Shared { map, start, len } => cast(&map[*start..], *len),
            Data::Private {
                map, start, len, ..
            } => cast(&map[*start..], *len),
        }
    }

    /// The elements, writable. An array in memory or in a copy-on-write map
    /// is written in place; one in a read-only map is first copied into
    /// memory (the cache entry is never written).
    pub fn make_mut(&mut self) -> &mut [T] {
        // The caller may change the elements: the digest no longer holds.
        self.digest = OnceLock::new();
        // A read-only map, or a private one an entry being written still
        // points into, is copied into memory first.
        let copy = match &mut self.data {
            Data::Shared { .. } => true,
            Data::Private { map, .. } => Arc::get_mut(map).is_none(),
            Data::Owned(_) => false,
        };
        if copy {
            self.data = Data::Owned(Arc::new(self.as_slice().to_vec()));
        }
        match &mut self.data {
            // Copies the elements if an entry being written shares them.
            Data::Owned(values) => Arc::make_mut(values).as_mut_slice(),
            Data::Private {
                map, start, len, ..
            } => {
                let map = Arc::get_mut(map).expect("copied above if shared");
                let bytes = &mut map[*start..*start + *len * size_of::<T>()];
                // SAFETY: `Element` types have no padding and accept any bit
                // pattern, so the bytes may be read as `T`s and any `T`
                // written leaves valid bytes; `align_to_mut` reinterprets only
                // the aligned middle (all of it: blobs are 64-byte aligned and
                // maps page-aligned), and the exclusive borrow of `map` is
                // carried over to the result.
                let (prefix, values, _) = unsafe { bytes.align_to_mut::<T>() };
                debug_assert!(prefix.is_empty(), "blobs are aligned");
                &mut values[..*len]
            }
            Data::Shared { .. } => unreachable!("copied above"),
        }
    }

    /// The elements in a `Vec` (a copy, if the array is mapped).
    pub fn into_vec(self) -> Vec<T> {
        match self.data {
            Data::Owned(values) => Arc::unwrap_or_clone(values),
            _ => self.as_slice().to_vec(),
        }
    }

    /// Whether the elements live in a memory map of a cache entry.
    pub fn is_mapped(&self) -> bool {
        self.mmap_mode().is_some()
    }

    /// How the elements are mapped, if they are.
    pub fn mmap_mode(&self) -> Option<MmapMode> {
        match self.data {
            Data::Owned(_) => None,
            Data::Shared { .. } => Some(MmapMode::ReadOnly),
            Data::Private { of_entry, .. } => of_entry.then_some(MmapMode::CopyOnWrite),
        }
    }
}

/// `len` elements at the start of `bytes`, which is aligned for `T` (blobs
/// are 64-byte aligned in the file and maps are page-aligned).
fn cast<T: Element>(bytes: &[u8], len: usize) -> &[T] {
    let bytes = &bytes[..len * size_of::<T>()];
    // SAFETY: `Element` types accept any bit pattern; `align_to` only
    // reinterprets the aligned middle part, which is all of it here.
    let (prefix, values, _) = unsafe { bytes.align_to::<T>() };
    assert!(
        prefix.is_empty(),
        "a mapped blob is not aligned for its type"
    );
    &values[..len]
}

impl<T: Element> Deref for Array<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Element> AsRef<[T]> for Array<T> {
    fn as_ref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Element> From<Vec<T>> for Array<T> {
    fn from(values: Vec<T>) -> Self {
        Array::from_vec(values)
    }
}

impl<T: Element> FromIterator<T> for Array<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Array::from_vec(iter.into_iter().collect())
    }
}

impl<T: Element> Clone for Array<T> {
    /// A read-only mapped array clones as another view of the same map; any
    /// other clones into memory.
    /// A clone has the same elements, so it keeps the digest.
    fn clone(&self) -> Self {
        let data = match &self.data {
            Data::Shared { map, start, len } => Data::Shared {
                map: Arc::clone(map),
                start: *start,
                len: *len,
            },
            _ => Data::Owned(Arc::new(self.as_slice().to_vec())),
        };
        Array {
            data,
            digest: self.digest.clone(),
        }
    }
}

impl<T: Element + PartialEq> PartialEq for Array<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Element + fmt::Debug> fmt::Debug for Array<T> {
    /// numpy's look: `array([1.0, 2.0])`, or `memmap([...])` for a mapped
    /// array; long arrays show their first and last three elements.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.as_slice();
        f.write_str(if self.is_mapped() {
            "memmap("
        } else {
            "array("
        })?;
        if values.len() <= 1000 {
            write!(f, "{values:?}")?;
        } else {
            let (head, tail) = (&values[..3], &values[values.len() - 3..]);
            let head = format!("{head:?}");
            let tail = format!("{tail:?}");
            write!(
                f,
                "{}, ..., {}",
                head.trim_end_matches(']'),
                tail.trim_start_matches('[')
            )?;
        }
        f.write_str(")")
    }
}

/// Bytes serialized as MessagePack `bin`, for the marker's ext payload.
struct Bin<'a>(&'a [u8]);

impl Serialize for Bin<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<T: Element> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let owner = || -> blobs::BlobOwner {
            match &self.data {
                Data::Owned(values) => Arc::clone(values) as blobs::BlobOwner,
                Data::Shared { map, .. } => Arc::clone(map) as blobs::BlobOwner,
                Data::Private { map, .. } => Arc::clone(map) as blobs::BlobOwner,
            }
        };
        let bytes = as_bytes(self.as_slice());
        match blobs::push(bytes, T::DTYPE, self.digest(), owner) {
            // Inside an entry: out of line, a marker in the stream. The
            // digest computed for it is the array's from now on.
            Some(marker) => {
                let _ = self.digest.set(marker.digest);
                let (ext, bytes) = marker.encode();
                serializer.serialize_newtype_struct(
                    rmp_serde::MSGPACK_EXT_STRUCT_NAME,
                    &(ext, Bin(&bytes)),
                )
            }
            // Anywhere else (hashing included): a plain sequence, which the
            // argument hasher reads straight from memory, or takes the
            // digest of, if known, for a large array.
            None => match self.digest() {
                Some(digest) if bytes.len() >= LARGE_RUN => {
                    crate::hash::with_known(bytes, digest, || {
                        serializer.collect_seq(self.as_slice())
                    })
                }
                _ => serializer.collect_seq(self.as_slice()),
            },
        }
    }
}

impl<'de, T: Element> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if blobs::with_current(|source| source.is_some()) {
            deserializer.deserialize_newtype_struct(
                rmp_serde::MSGPACK_EXT_STRUCT_NAME,
                MarkerVisitor::<T>(Default::default()),
            )
        } else {
            Vec::<T>::deserialize(deserializer).map(Array::from_vec)
        }
    }
}

/// Reads an array marker (`ext(MARKER_EXT, bytes)`) and resolves its blob.
struct MarkerVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Element> Visitor<'de> for MarkerVisitor<T> {
    type Value = Array<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a memo array marker")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Array<T>, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut ext: A) -> Result<Array<T>, A::Error> {
        let tag: i8 = ext
            .next_element()?
            .ok_or_else(|| de::Error::custom("an empty ext value"))?;
        let payload: ByteBuf = ext
            .next_element()?
            .ok_or_else(|| de::Error::custom("an ext value without data"))?;
        let Some(marker) = Marker::decode(tag, &payload.0) else {
            return Err(de::Error::custom("not a memo array marker"));
        };
        blobs::with_current(|source| {
            let source =
                source.ok_or_else(|| de::Error::custom("an array marker outside an entry"))?;
            resolve(marker, source).map_err(de::Error::custom)
        })
    }
}

/// Owned bytes from a MessagePack `bin` or ext payload.
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(bytes.to_vec()))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

/// Turns a marker into an array: checks it against the entry, then maps or
/// copies (and checks) the blob.
fn resolve<T: Element>(marker: Marker, source: &Source<'_>) -> Result<Array<T>, String> {
    if marker.dtype != T::DTYPE as u8 {
        return Err(format!(
            "array stored with element type {}, read as {:?}",
            marker.dtype,
            T::DTYPE
        ));
    }
    let size = size_of::<T>() as u64;
    if marker.stored {
        return resolve_stored(marker, source);
    }
    let in_bounds = marker
        .offset
        .checked_add(marker.len)
        .is_some_and(|end| end <= source.blobs_len);
    if !in_bounds || !marker.len.is_multiple_of(size) || !marker.offset.is_multiple_of(BLOB_ALIGN) {
        return Err("array marker out of the entry's bounds".into());
    }
    let count = usize::try_from(marker.len / size).map_err(|e| e.to_string())?;
    let at = source.blobs_at + marker.offset;
    let start = usize::try_from(at).map_err(|e| e.to_string())?;
    if count == 0 {
        return Ok(Array::from_vec(Vec::new()));
    }
    let mode = source.file.and_then(|file| Some((file, source.mode?)));
    let data = match mode {
        Some((file, MmapMode::ReadOnly)) => {
            let map = match source.shared.get() {
                Some(map) => map,
                None => {
                    // SAFETY: entries are never modified or truncated in place
                    // (they are replaced by rename), so the mapped bytes stay
                    // valid for the map's life; see docs/reliability.md.
                    let map = unsafe { Mmap::map(file) }
                        .map_err(|e| format!("cannot map the entry: {e}"))?;
                    let _ = source.shared.set(Arc::new(map));
                    source.shared.get().expect("just set")
                }
            };
            if map.len() < start + count * size as usize {
                return Err("the entry is shorter than its array".into());
            }
            Data::Shared {
                map: Arc::clone(map),
                start,
                len: count,
            }
        }
        Some((file, MmapMode::CopyOnWrite)) => {
            let page = page_size() as u64;
            let map_at = at / page * page;
            let within = (at - map_at) as usize;
            // SAFETY: as above; a private map never writes to the file.
            let map = unsafe {
                MmapOptions::new()
                    .offset(map_at)
                    .len(within + marker.len as usize)
                    .map_copy(file)
            }
            .map_err(|e| format!("cannot map the entry: {e}"))?;
            Data::Private {
                map: Arc::new(map),
                start: within,
                len: count,
                of_entry: true,
            }
        }
        None => {
            let checked = match (
                source.bytes.get(start..start + marker.len as usize),
                source.file,
            ) {
                (Some(bytes), _) => load::from_bytes::<T>(bytes, count, marker.digest),
                (None, Some(file)) => load::from_file::<T>(file, at, count, marker.digest)
                    .map_err(|e| format!("cannot read the array: {e}"))?,
                (None, None) => return Err("the entry's arrays were not read".into()),
            };
            checked.ok_or("array digest mismatch")?
        }
    };
    Ok(Array {
        data,
        digest: OnceLock::from(marker.digest),
    })
}

/// Turns a marker of a blob in the store's blob area into an array: checks
/// that the entry refers to it, opens it, then maps or copies (and checks)
/// it. A blob gone (removed with the last entry that referred to it, as
/// this entry was being replaced) or damaged is an error: recomputed.
fn resolve_stored<T: Element>(marker: Marker, source: &Source<'_>) -> Result<Array<T>, String> {
    let blob = BlobRef {
        digest: marker.digest,
        len: marker.len,
    };
    if !BlobRef::decode_all(source.refs).any(|listed| listed == blob) {
        return Err("an array marker the entry does not list".into());
    }
    let size = size_of::<T>() as u64;
    if !marker.len.is_multiple_of(size) || marker.len == 0 {
        return Err("array marker of a length that is no whole array".into());
    }
    let count = usize::try_from(marker.len / size).map_err(|e| e.to_string())?;
    let area = source
        .blob_area
        .ok_or("an array stored by content, read where there are no blobs")?;
    let (file, len) = area
        .open(marker.digest)
        .map_err(|e| format!("cannot open the array's blob: {e}"))?
        .ok_or("the array's blob is missing")?;
    if len != marker.len {
        return Err("the array's blob has another length".into());
    }
    let data = match source.mode {
        Some(MmapMode::ReadOnly) => {
            // SAFETY: blobs are never modified or truncated in place (they
            // are created whole and linked, and removed by unlink), so the
            // mapped bytes stay valid for the map's life.
            let map =
                unsafe { Mmap::map(&file) }.map_err(|e| format!("cannot map the blob: {e}"))?;
            Data::Shared {
                map: Arc::new(map),
                start: 0,
                len: count,
            }
        }
        Some(MmapMode::CopyOnWrite) => {
            // SAFETY: as above; a private map never writes to the file.
            let map = unsafe { MmapOptions::new().map_copy(&file) }
                .map_err(|e| format!("cannot map the blob: {e}"))?;
            Data::Private {
                map: Arc::new(map),
                start: 0,
                len: count,
                of_entry: true,
            }
        }
        None => match load::from_file::<T>(&file, 0, count, marker.digest)
            .map_err(|e| format!("cannot read the array's blob: {e}"))?
        {
            Some(data) => data,
            None => {
                area.corrupt(marker.digest);
                return Err("array blob digest mismatch".into());
            }
        },
    };
    Ok(Array {
        data,
        digest: OnceLock::from(marker.digest),
    })
}

fn page_size() -> usize {
    rustix::param::page_size()
}
