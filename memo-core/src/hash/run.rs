//! The digest of a large byte run: what the key stream holds for a run of
//! scalars of [`LARGE_RUN`] bytes or more, what names a blob in a cache, and
//! what an [`Array`](crate::Array) carries once it has been stored or read
//! from a cache.
//!
//! `run_digest(bytes)` is xxh3-128 (seed 0) of the little-endian xxh3-128
//! digests of the bytes' [`CHUNK`]-sized pieces (the last one shorter),
//! followed by the byte length as `u64` LE. Chunked so that large runs are
//! hashed on every core (helper threads claim chunks one at a time beside
//! the caller, `pool.rs`) and so that a writer or reader can compute it
//! piece by piece, inside its I/O loop ([`RunDigester`]); the combining
//! step costs 16 bytes per MiB.

use std::cell::Cell;
use std::mem::MaybeUninit;

use xxhash_rust::xxh3::{Xxh3Default, xxh3_128};

use super::Digest;
use super::chunks::Chunks;
use super::{pool, wide};

/// The chunk size of [`run_digest`].
pub const CHUNK: usize = 1 << 20;

/// Runs of at least this many bytes are hashed as their [`run_digest`] in
/// the key stream, and arrays this large are stored as blobs of their own.
pub const LARGE_RUN: usize = 1 << 20;

/// From this size on, [`run_digest`] hashes with the helper threads: below
/// it, waking them costs more than they save.
pub(crate) const PARALLEL: usize = 4 << 20;

/// The digest of `bytes` (see the module docs). Equal bytes give equal
/// digests on every machine, whichever threads hashed which chunks.
pub fn run_digest(bytes: &[u8]) -> Digest {
    if bytes.len() < PARALLEL {
        let chunks = bytes.chunks(CHUNK).map(wide::xxh3_128);
        return combine(chunks, bytes.len());
    }
    let Ok(digest) = digest_beside(bytes, || Ok::<_, std::convert::Infallible>(()));
    digest
}

/// The [`run_digest`] of `bytes`, hashed by the helper threads while this
/// thread runs `work` (say, writing the bytes to a file), then by this
/// thread too, on what is left. If `work` fails, hashing stops and its
/// error is returned.
pub(crate) fn digest_beside<E>(
    bytes: &[u8],
    work: impl FnOnce() -> Result<(), E>,
) -> Result<Digest, E> {
    let chunks = Chunks::new(bytes);
    pool::hash_beside(&chunks, |_| work())?;
    Ok(combine(chunks.digests(), bytes.len()))
}

/// The [`run_digest`] of what `fill` writes into `buffer`, one [`CHUNK`]
/// at a time, in order (`fill(chunk, offset)` must initialize all of
/// `chunk`, which starts `offset` bytes into `buffer`): the helper threads
/// hash each chunk as soon as it is filled, so with a core to spare the
/// digest costs little beyond the filling (a load's reads); without one,
/// this thread hashes each chunk right after filling it, while it is in
/// the cache. If `fill` fails, hashing stops and its error is returned.
pub(crate) fn digest_filling<E>(
    buffer: &mut [MaybeUninit<u8>],
    mut fill: impl FnMut(&mut [MaybeUninit<u8>], usize) -> Result<(), E>,
) -> Result<Digest, E> {
    let len = buffer.len();
    let start = buffer.as_mut_ptr();
    // SAFETY: `buffer` is borrowed for this whole call; each chunk is
    // written below only before it is marked ready.
    let chunks = unsafe { Chunks::filling(start.cast_const().cast(), len) };
    pool::hash_beside(&chunks, |helped| {
        for (index, offset) in (0..len).step_by(CHUNK).enumerate() {
            let end = (offset + CHUNK).min(len);
            // SAFETY: within `buffer`; the chunks marked ready so far end
            // at `offset`, so nothing reads this one yet.
            let chunk = unsafe { std::slice::from_raw_parts_mut(start.add(offset), end - offset) };
            fill(chunk, offset)?;
            chunks.mark_ready(index + 1);
            if !helped {
                chunks.hash_claimed(false);
            }
        }
        Ok(())
    })?;
    Ok(combine(chunks.digests(), len))
}

/// The digest of a run of `len` bytes from its chunks' digests, in order.
fn combine(chunks: impl Iterator<Item = Digest>, len: usize) -> Digest {
    let mut digests = Vec::with_capacity(len.div_ceil(CHUNK) * 16 + 8);
    chunks.for_each(|digest| digests.extend_from_slice(&digest.to_le_bytes()));
    digests.extend_from_slice(&(len as u64).to_le_bytes());
    xxh3_128(&digests)
}

/// [`run_digest`] fed in pieces of any size.
#[derive(Default)]
pub struct RunDigester {
    chunk: Xxh3Default,
    in_chunk: usize,
    len: u64,
    digests: Vec<u8>,
}

impl RunDigester {
    /// An empty run.
    pub fn new() -> Self {
        RunDigester::default()
    }

    /// Adds the next bytes.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            if self.in_chunk == 0 && bytes.len() >= CHUNK {
                // A whole chunk at once: hashed in one go, on the widest
                // SIMD path (the streaming hasher is xxhash-rust's build).
                let digest = wide::xxh3_128(&bytes[..CHUNK]);
                self.digests.extend_from_slice(&digest.to_le_bytes());
                bytes = &bytes[CHUNK..];
                continue;
            }
            let take = (CHUNK - self.in_chunk).min(bytes.len());
            self.chunk.update(&bytes[..take]);
            self.in_chunk += take;
            bytes = &bytes[take..];
            if self.in_chunk == CHUNK {
                self.end_chunk();
            }
        }
    }

    fn end_chunk(&mut self) {
        self.digests
            .extend_from_slice(&self.chunk.digest128().to_le_bytes());
        self.chunk.reset();
        self.in_chunk = 0;
    }

    /// How many bytes were added.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything added.
    pub fn finish(mut self) -> Digest {
        if self.in_chunk > 0 {
            self.end_chunk();
        }
        self.digests.extend_from_slice(&self.len.to_le_bytes());
        xxh3_128(&self.digests)
    }
}

thread_local! {
    /// A run whose digest is already known: its address, length, digest.
    static KNOWN: Cell<Option<(usize, usize, Digest)>> = const { Cell::new(None) };
}

/// Runs `f` with `digest` known to be the [`run_digest`] of `bytes`: while
/// it runs, the key stream takes the digest instead of hashing these very
/// bytes (same address, same length) again. The caller guarantees the
/// bytes are not changed meanwhile and that `digest` is theirs (an
/// [`Array`](crate::Array) forgets its digest before giving out `&mut`).
pub(crate) fn with_known<R>(bytes: &[u8], digest: Digest, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(usize, usize, Digest)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            KNOWN.with(|known| known.set(self.0));
        }
    }
    let _restore = Restore(
        KNOWN.with(|known| known.replace(Some((bytes.as_ptr() as usize, bytes.len(), digest)))),
    );
    f()
}

/// The digest of `bytes`: the known one if [`with_known`] holds it for
/// exactly these bytes, else computed.
pub(super) fn digest_of(bytes: &[u8]) -> Digest {
    match KNOWN.with(Cell::get) {
        Some((at, len, digest)) if at == bytes.as_ptr() as usize && len == bytes.len() => digest,
        _ => run_digest(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_parallel_and_streaming_agree() {
        for len in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            PARALLEL - 1,
            PARALLEL,
            PARALLEL + 3 * CHUNK + 5,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let whole = run_digest(&bytes);
            for piece in [1000, 256 << 10, CHUNK, 7 << 20] {
                let mut streamed = RunDigester::new();
                bytes.chunks(piece).for_each(|part| streamed.update(part));
                assert_eq!(streamed.finish(), whole, "length {len}, pieces of {piece}");
            }
        }
    }

    #[test]
    fn any_byte_and_the_length_change_it() {
        let mut bytes = vec![7u8; PARALLEL + 100];
        let before = run_digest(&bytes);
        *bytes.last_mut().unwrap() ^= 1;
        assert_ne!(run_digest(&bytes), before);
        bytes[0] ^= 1;
        assert_ne!(run_digest(&bytes), before);
        // Zeros of two lengths: the length takes part.
        assert_ne!(run_digest(&[0; CHUNK]), run_digest(&[0; CHUNK + 1]));
    }

    #[test]
    fn a_known_digest_is_used_for_those_bytes_only() {
        let bytes = vec![1u8; 100];
        let other = vec![1u8; 100];
        with_known(&bytes, 42, || {
            assert_eq!(digest_of(&bytes), 42);
            assert_eq!(digest_of(&other), run_digest(&other));
            assert_eq!(digest_of(&bytes[1..]), run_digest(&bytes[1..]));
        });
        assert_eq!(digest_of(&bytes), run_digest(&bytes));
    }

    #[test]
    fn a_run_filled_while_hashed_digests_as_a_whole() {
        for len in [0, 1, CHUNK, PARALLEL + 3 * CHUNK + 5] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let mut buffer = vec![MaybeUninit::new(0u8); len];
            let digest = digest_filling(&mut buffer, |chunk, offset| {
                for (slot, byte) in chunk.iter_mut().zip(&bytes[offset..]) {
                    slot.write(*byte);
                }
                Ok::<_, ()>(())
            });
            assert_eq!(digest, Ok(run_digest(&bytes)), "length {len}");
        }
        // A failed fill stops it, and the pool is free again after.
        let mut buffer = vec![MaybeUninit::new(0u8); PARALLEL * 2];
        let failed = digest_filling(&mut buffer, |_, offset| match offset < PARALLEL {
            true => Ok(()),
            false => Err("read failed"),
        });
        assert_eq!(failed, Err("read failed"));
        let bytes = vec![3u8; PARALLEL + 1];
        assert_eq!(
            digest_beside(&bytes, || Ok::<_, ()>(())),
            Ok(run_digest(&bytes))
        );
    }

    #[test]
    fn a_slow_fill_is_waited_for_asleep_and_digests_the_same() {
        // Reads slower than a helper's pauses (a cold disk): helpers sleep
        // until each chunk is marked ready, and still hash it.
        let len = PARALLEL + 2 * CHUNK + 3;
        let bytes: Vec<u8> = (0..len).map(|i| (i * 13 % 241) as u8).collect();
        let mut buffer = vec![MaybeUninit::new(0u8); len];
        let digest = digest_filling(&mut buffer, |chunk, offset| {
            std::thread::sleep(std::time::Duration::from_millis(15));
            for (slot, byte) in chunk.iter_mut().zip(&bytes[offset..]) {
                slot.write(*byte);
            }
            Ok::<_, ()>(())
        });
        assert_eq!(digest, Ok(run_digest(&bytes)));
    }
}
