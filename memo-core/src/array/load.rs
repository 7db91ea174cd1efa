//! Loading an array into memory (no memory map): read, and check against
//! the digest in its marker.
//!
//! Large arrays are where the time goes, and two things decide it on Linux:
//! - A fresh buffer costs a page fault per 4 KiB page on first touch, which
//!   costs more than the copy itself (a 256 MiB read into a new `Vec` runs at
//!   ~2.5 GB/s here, into touched memory at ~16). So large arrays are read
//!   into anonymous memory of their own, advised to use huge pages: one fault
//!   per 2 MiB.
//! - The digest is a second pass over the data. It runs on another core,
//!   chunk by chunk right behind the reads, so a load costs about one pass.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::sync::{Arc, mpsc};

use crate::hash::{Digest, RunDigester as Chunked, run_digest};
use memmap2::{MmapMut, MmapOptions};

use super::element::as_bytes_mut;
use super::{Array, Data, Element};

/// Arrays from this size on get their own huge-page memory and a checksum
/// running beside the reads. Below it a thread costs more than it saves, and
/// the allocator often hands back recycled, already-touched memory (glibc
/// serves requests above 32 MiB with fresh maps, always).
const LARGE: usize = 32 << 20;

/// Reads are issued, and hashed, in chunks of this size.
const CHUNK: usize = 4 << 20;

/// Below [`LARGE`], chunks small enough to be hashed from the cache.
const CHUNK_IN_CACHE: usize = 256 << 10;

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
    if len < LARGE {
        // Each chunk is hashed right after it is read, while it is still in
        // the cache: one pass over memory instead of two.
        // Read into the vector's spare capacity: no zeroing pass either.
        let mut values: Vec<T> = Vec::with_capacity(count);
        // SAFETY: the spare capacity is `len` bytes, viewed as possibly
        // uninitialized bytes, which is what `pread` fills.
        let spare = unsafe {
            std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<MaybeUninit<u8>>(), len)
        };
        let mut hasher = Chunked::default();
        let mut offset = at;
        for chunk in spare.chunks_mut(CHUNK_IN_CACHE) {
            hasher.update(pread_exact(file, chunk, offset)?);
            offset += chunk.len() as u64;
        }
        // SAFETY: every byte was written by `pread_exact`, and any bytes
        // are a valid `T`.
        unsafe { values.set_len(count) };
        return Ok((hasher.finish() == checksum).then_some(Data::Owned(Arc::new(values))));
    }
    let mut map = MmapOptions::new().len(len).map_anon()?;
    // SAFETY: advice about memory this map owns; ignoring it is harmless.
    unsafe { libc::madvise(map.as_mut_ptr().cast(), len, libc::MADV_HUGEPAGE) };
    let matches = read_and_hash(file, at, &mut map)? == checksum;
    Ok(matches.then_some(Data::Private {
        map: Arc::new(map),
        start: 0,
        len: count,
        of_entry: false,
    }))
}

/// Fills `buffer` from `file` at `at`, while another thread hashes each
/// chunk as soon as it is read; returns the checksum of all of it.
fn read_and_hash(file: &File, at: u64, buffer: &mut MmapMut) -> io::Result<Digest> {
    std::thread::scope(|scope| {
        let (filled, to_hash) = mpsc::sync_channel::<&[u8]>(4);
        let hasher = scope.spawn(move || {
            let mut hasher = Chunked::default();
            for chunk in to_hash {
                hasher.update(chunk);
            }
            hasher.finish()
        });
        let mut offset = at;
        for chunk in buffer.chunks_mut(CHUNK) {
            read_exact_at(file, chunk, offset)?;
            offset += chunk.len() as u64;
            // The hasher only stops early if it panicked; `join` reports that.
            let _ = filled.send(chunk);
        }
        drop(filled);
        Ok(hasher.join().expect("the checksum thread panicked"))
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

fn read_exact_at(file: &File, buffer: &mut [u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, at)
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
}
