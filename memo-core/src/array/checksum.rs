//! The checksum of an array's bytes: xxh3-64 of the concatenated xxh3-64
//! digests (little-endian) of its 4 MiB chunks.
//!
//! Chunked so that both sides can use both cores: a miss hashes the chunks
//! of a large array on two threads before writing it (the checksum goes in
//! the marker, which is written before the array), and a full load hashes
//! each chunk on the second core right behind the read.

use xxhash_rust::xxh3::{Xxh3Default, xxh3_64};

/// The chunk size of the checksum.
pub(crate) const CHUNK: usize = 4 << 20;

/// From this size on, a miss hashes an array's chunks on two threads.
const PARALLEL: usize = 32 << 20;

/// The checksum of `bytes`.
pub(crate) fn of(bytes: &[u8]) -> u64 {
    let mut digests = Vec::with_capacity(bytes.len().div_ceil(CHUNK) * 8);
    if bytes.len() < PARALLEL {
        bytes
            .chunks(CHUNK)
            .for_each(|chunk| digests.extend_from_slice(&xxh3_64(chunk).to_le_bytes()));
    } else {
        // Split on a chunk boundary: each thread hashes whole chunks.
        let (first, second) = bytes.split_at(bytes.len().div_ceil(CHUNK) / 2 * CHUNK);
        let hash_all = |half: &[u8]| {
            half.chunks(CHUNK)
                .flat_map(|chunk| xxh3_64(chunk).to_le_bytes())
                .collect::<Vec<u8>>()
        };
        let (first, second) = std::thread::scope(|scope| {
            let first = scope.spawn(|| hash_all(first));
            let second = hash_all(second);
            (first.join().expect("a checksum thread panicked"), second)
        });
        digests.extend_from_slice(&first);
        digests.extend_from_slice(&second);
    }
    xxh3_64(&digests)
}

/// The same checksum, fed in pieces of any size.
#[derive(Default)]
pub(crate) struct Chunked {
    chunk: Xxh3Default,
    in_chunk: usize,
    digests: Vec<u8>,
}

impl Chunked {
    /// Adds the next bytes.
    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
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
            .extend_from_slice(&self.chunk.digest().to_le_bytes());
        self.chunk = Xxh3Default::new();
        self.in_chunk = 0;
    }

    /// The checksum of everything added.
    pub(crate) fn finish(mut self) -> u64 {
        if self.in_chunk > 0 {
            self.end_chunk();
        }
        xxh3_64(&self.digests)
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
            PARALLEL + 3 * CHUNK + 5,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let whole = of(&bytes);
            for piece in [1000, 256 << 10, CHUNK, 7 << 20] {
                let mut chunked = Chunked::default();
                bytes.chunks(piece).for_each(|part| chunked.update(part));
                assert_eq!(chunked.finish(), whole, "length {len}, pieces of {piece}");
            }
        }
    }

    #[test]
    fn any_byte_changes_it() {
        let mut bytes = vec![7u8; PARALLEL + 100];
        let before = of(&bytes);
        *bytes.last_mut().unwrap() ^= 1;
        assert_ne!(of(&bytes), before);
        bytes[0] ^= 1;
        assert_ne!(of(&bytes), before);
    }
}
