//! Loading an array into memory (no memory map): read, and check against
//! the digest in its marker.
//!
//! Large arrays are where the time goes, and two things decide it on Linux:
//! - A fresh buffer costs a page fault per 4 KiB page on first touch, which
//!   costs more than the copy itself (a 256 MiB read into a new `Vec` runs at
//!   ~2.5 GB/s here, into touched memory at ~16). So large arrays are read
//!   into anonymous memory of their own, advised to use huge pages: one fault
//!   per 2 MiB.
//! - The digest is a second pass over the data. From a few MiB on, the
//!   hash pool's helpers (`hash/pool.rs`) hash each chunk on another core
//!   right behind the reads, so a load costs about one pass; smaller arrays
//!   are hashed piece by piece right after each read, from the cache.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::hash::{Digest, PARALLEL, RunDigester as Chunked, digest_filling, run_digest};
use memmap2::MmapOptions;

use super::element::as_bytes_mut;
use super::{Array, Data, Element};

/// Arrays from this size on get their own huge-page memory. Below it the
/// allocator often hands back recycled, already-touched memory (glibc
/// serves requests above 32 MiB with fresh maps, always), and compacting
/// memory into huge pages for a fresh map costs more than it saves.
const LARGE: usize = 32 << 20;

/// Below [`PARALLEL`], arrays are read in pieces this small, each hashed
/// right after it is read, while it is still in the cache.
const PIECE_IN_CACHE: usize = 256 << 10;

/// `count` elements copied out of `bytes` (unaligned), if they match
/// `checksum`.
pub(super) fn from_bytes<T: Element>(
    bytes: &[u8],
    count: usize,
    checksum: Digest,
) -> Option<Data<T>> {
    if run_digest(bytes) != checksum {
        return None;
    }
    let mut values = vec![T::default(); count];
    as_bytes_mut(&mut values).copy_from_slice(bytes);
    Some(Data::Owned(Arc::new(values)))
}

/// `count` elements read from `file` at byte `at`, if they match
/// `checksum` (`Ok(None)` if not).
pub(super) fn from_file<T: Element>(
    file: &File,
    at: u64,
    count: usize,
    checksum: Digest,
) -> io::Result<Option<Data<T>>> {
    let len = count * size_of::<T>();
    if len >= LARGE {
        let mut map = MmapOptions::new().len(len).map_anon()?;
        // SAFETY: advice about memory this map owns; ignoring it is harmless.
        unsafe { libc::madvise(map.as_mut_ptr().cast(), len, libc::MADV_HUGEPAGE) };
        // SAFETY: the map's bytes viewed as possibly uninitialized, which
        // only ever get initialized bytes written (by `pread`).
        let bytes =
            unsafe { &mut *(std::ptr::from_mut::<[u8]>(&mut map) as *mut [MaybeUninit<u8>]) };
        let matches = read_hashing(file, at, bytes)? == checksum;
        return Ok(matches.then_some(Data::Private {
            map: Arc::new(map),
            start: 0,
            len: count,
            of_entry: false,
        }));
    }
    // Read into the vector's spare capacity: no zeroing pass.
    let mut values: Vec<T> = Vec::with_capacity(count);
    // SAFETY: the spare capacity is `len` bytes, viewed as possibly
    // uninitialized bytes, which is what `pread` fills.
    let spare = unsafe {
        std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<MaybeUninit<u8>>(), len)
    };
    let digest = match len >= PARALLEL {
        true => read_hashing(file, at, spare)?,
        false => {
            let mut hasher = Chunked::default();
            let mut offset = at;
            for piece in spare.chunks_mut(PIECE_IN_CACHE) {
                hasher.update(pread_exact(file, piece, offset)?);
                offset += piece.len() as u64;
            }
            hasher.finish()
        }
    };
    // SAFETY: every byte was written by `pread_exact`, and any bytes are a
    // valid `T`.
    unsafe { values.set_len(count) };
    Ok((digest == checksum).then_some(Data::Owned(Arc::new(values))))
}

/// Fills `buffer` from `file` at `at`, chunk by chunk, hashed on another
/// core right behind the reads; returns the checksum of all of it.
fn read_hashing(file: &File, at: u64, buffer: &mut [MaybeUninit<u8>]) -> io::Result<Digest> {
    digest_filling(buffer, |chunk, offset| {
        pread_exact(file, chunk, at + offset as u64).map(drop)
    })
}

/// Fills `buffer` from `file` at `at`; returns it, initialized.
fn pread_exact<'a>(
    file: &File,
    buffer: &'a mut [MaybeUninit<u8>],
    at: u64,
) -> io::Result<&'a [u8]> {
    let mut filled = 0;
    while filled < buffer.len() {
        match rustix::io::pread(file, &mut buffer[filled..], at + filled as u64) {
            Ok(([], _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok((read, _)) => filled += read.len(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // SAFETY: all of `buffer` was written by `pread` above.
    Ok(unsafe { std::slice::from_raw_parts(buffer.as_ptr().cast::<u8>(), buffer.len()) })
}

impl<T: Element> Array<T> {
    #[cfg(test)]
    fn is_anonymous(&self) -> bool {
        matches!(
            self.data,
            Data::Private {
                of_entry: false,
                ..
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::element::as_bytes;

    fn file_with(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        file
    }

    #[test]
    fn large_loads_use_their_own_memory_and_check_every_chunk() {
        let values: Vec<u64> = (0..(LARGE as u64 / 8) + 12345).collect();
        let bytes = as_bytes(&values).to_vec();
        let file = file_with(&[&[0u8; 64][..], &bytes].concat());
        let checksum = run_digest(&bytes);
        let loaded = Array {
            data: from_file::<u64>(&file, 64, values.len(), checksum)
                .unwrap()
                .unwrap(),
            digest: std::sync::OnceLock::new(),
        };
        assert!(loaded.is_anonymous() && !loaded.is_mapped());
        assert_eq!(loaded.as_slice(), &values[..]);
        assert!(
            from_file::<u64>(&file, 64, values.len(), checksum ^ 1)
                .unwrap()
                .is_none()
        );
        // One flipped byte in the last chunk is caught.
        let mut damaged = bytes.clone();
        *damaged.last_mut().unwrap() ^= 1;
        let file = file_with(&damaged);
        assert!(
            from_file::<u64>(&file, 0, values.len(), checksum)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn small_loads_are_plain_vectors() {
        let values = [1.5f32, -2.0, 3.25];
        let file = file_with(as_bytes(&values));
        let checksum = run_digest(as_bytes(&values));
        let loaded = Array {
            data: from_file::<f32>(&file, 0, 3, checksum).unwrap().unwrap(),
            digest: std::sync::OnceLock::new(),
        };
        assert_eq!(loaded.as_slice(), &values);
        assert!(matches!(loaded.data, Data::Owned(_)));
    }

    #[test]
    fn loads_hashed_behind_their_reads_check_every_chunk() {
        // Between the parallel threshold and the huge-page size: read into
        // a vector, hashed by the pool's helpers chunk by chunk.
        let values: Vec<u64> = (0..(PARALLEL as u64 / 8) * 3 + 777).collect();
        let bytes = as_bytes(&values).to_vec();
        let checksum = run_digest(&bytes);
        let file = file_with(&[&[9u8; 40][..], &bytes].concat());
        let loaded = from_file::<u64>(&file, 40, values.len(), checksum)
            .unwrap()
            .expect("the checksum matches");
        assert!(matches!(&loaded, Data::Owned(v) if v[..] == values[..]));
        for at in [0, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let file = file_with(&damaged);
            assert!(
                from_file::<u64>(&file, 0, values.len(), checksum)
                    .unwrap()
                    .is_none(),
                "a flipped byte at {at} is caught"
            );
        }
        // A file shorter than its array is an error, not a short array.
        let file = file_with(&bytes[..bytes.len() - 8]);
        assert!(from_file::<u64>(&file, 0, values.len(), checksum).is_err());
    }
}
