//! xxh3-128 of a large run's chunks on the widest SIMD path the CPU has,
//! chosen at run time.
//!
//! xxhash-rust picks its SIMD path when it is compiled: a default x86-64
//! build gets SSE2 (two 64-bit lanes per instruction) even on a CPU with
//! AVX2 (four), which halves the speed of hashing data that sits in the
//! cache. So the long-input loop of xxh3 (inputs over 240 bytes, which
//! every 1 MiB chunk is) is written here once more with AVX2, and used when
//! the CPU has it and the build did not already enable it; everything else,
//! and the definition the tests hold this to, is xxhash-rust's. The result
//! is bit for bit `xxhash_rust::xxh3::xxh3_128` (seed 0, default secret):
//! the algorithm is the XXH3 specification's, its secret is taken from
//! xxhash-rust, and the tests compare the two over every length boundary.

use super::Digest;

/// xxh3-128 of `bytes`, on the widest path this CPU runs.
#[inline]
pub(crate) fn xxh3_128(bytes: &[u8]) -> Digest {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    if bytes.len() > avx2::MID_SIZE_MAX && avx2::available() {
        // SAFETY: the CPU has AVX2 (checked just now).
        return unsafe { avx2::xxh3_128_long(bytes) };
    }
    xxhash_rust::xxh3::xxh3_128(bytes)
}

#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
pub(super) mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi64, _mm256_loadu_si256, _mm256_mul_epu32, _mm256_set1_epi32,
        _mm256_shuffle_epi32, _mm256_slli_epi64, _mm256_srli_epi64, _mm256_storeu_si256,
        _mm256_xor_si256,
    };

    use xxhash_rust::const_xxh3::const_custom_default_secret;

    /// Inputs up to this length take xxh3's short paths, not the loop here.
    pub(crate) const MID_SIZE_MAX: usize = 240;

    /// The default secret (seed 0), as xxhash-rust defines it.
    static SECRET: [u8; SECRET_LEN] = const_custom_default_secret(0);
    const SECRET_LEN: usize = 192;
    const STRIPE: usize = 64;
    /// Bytes of secret each stripe moves along.
    const SECRET_STEP: usize = 8;
    const STRIPES_PER_BLOCK: usize = (SECRET_LEN - STRIPE) / SECRET_STEP;
    const BLOCK: usize = STRIPE * STRIPES_PER_BLOCK;
    /// Where the last stripe's secret starts, back from the scramble's.
    const LAST_STRIPE_BACK: usize = 7;
    /// Where the merges' secrets start.
    const MERGE_START: usize = 11;

    const PRIME32_1: u64 = 0x9E37_79B1;
    const PRIME32_2: u64 = 0x85EB_CA77;
    const PRIME32_3: u64 = 0xC2B2_AE3D;
    const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
    const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
    const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
    const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

    /// The accumulators' starting values.
    const INITIAL: [u64; 8] = [
        PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1,
    ];

    /// Whether this CPU runs AVX2 (detected once; then an atomic load).
    pub(crate) fn available() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    /// xxh3-128 of `input`, longer than [`MID_SIZE_MAX`] bytes.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn xxh3_128_long(input: &[u8]) -> u128 {
        debug_assert!(input.len() > MID_SIZE_MAX);
        let len = input.len();
        let secret = SECRET.as_ptr();
        let at = |offset: usize| {
            debug_assert!(offset + STRIPE <= len);
            // SAFETY: within `input` (callers stay below `len - STRIPE`).
            unsafe { input.as_ptr().add(offset) }
        };
        // SAFETY: loads 64 bytes from a `[u64; 8]`.
        let mut acc = unsafe { load_pair(INITIAL.as_ptr().cast()) };
        let blocks = (len - 1) / BLOCK;
        for block in 0..blocks {
            for stripe in 0..STRIPES_PER_BLOCK {
                // SAFETY: a whole stripe of the block, and secret bytes
                // `stripe * 8 ..+ 64`, within its 192.
                unsafe {
                    accumulate(
                        &mut acc,
                        at(block * BLOCK + stripe * STRIPE),
                        secret.add(stripe * SECRET_STEP),
                    );
                }
            }
            // SAFETY: the last 64 bytes of the secret.
            unsafe { scramble(&mut acc, secret.add(SECRET_LEN - STRIPE)) };
        }
        // The last, partial block; then the input's last 64 bytes, always.
        let stripes = ((len - 1) - BLOCK * blocks) / STRIPE;
        for stripe in 0..stripes {
            // SAFETY: as above; `stripes` whole stripes fit before `len - 1`.
            unsafe {
                accumulate(
                    &mut acc,
                    at(blocks * BLOCK + stripe * STRIPE),
                    secret.add(stripe * SECRET_STEP),
                );
            }
        }
        // SAFETY: the input is longer than 64 bytes; the secret offset
        // leaves 64 bytes.
        unsafe {
            accumulate(
                &mut acc,
                at(len - STRIPE),
                secret.add(SECRET_LEN - STRIPE - LAST_STRIPE_BACK),
            );
        }
        let mut lanes = [0u64; 8];
        // SAFETY: stores 64 bytes into a `[u64; 8]`.
        unsafe {
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc[0]);
            _mm256_storeu_si256(lanes.as_mut_ptr().add(4).cast(), acc[1]);
        }
        let len = len as u64;
        let low = merge(&lanes, MERGE_START, len.wrapping_mul(PRIME64_1));
        let high = merge(
            &lanes,
            SECRET_LEN - 64 - MERGE_START,
            !len.wrapping_mul(PRIME64_2),
        );
        u128::from(low) | u128::from(high) << 64
    }

    /// Two 256-bit halves loaded from the 64 bytes at `at`.
    #[target_feature(enable = "avx2")]
    unsafe fn load_pair(at: *const u8) -> [__m256i; 2] {
        // SAFETY: the caller hands 64 readable bytes.
        unsafe {
            [
                _mm256_loadu_si256(at.cast()),
                _mm256_loadu_si256(at.add(32).cast()),
            ]
        }
    }

    /// One stripe: every lane `i` adds the stripe's word `i ^ 1`, and the
    /// product of the halves of word `i` xor its secret word.
    #[target_feature(enable = "avx2")]
    unsafe fn accumulate(acc: &mut [__m256i; 2], stripe: *const u8, secret: *const u8) {
        // SAFETY: the caller hands 64 readable bytes of each.
        let (data, keys) = unsafe { (load_pair(stripe), load_pair(secret)) };
        for half in 0..2 {
            let keyed = _mm256_xor_si256(data[half], keys[half]);
            let product = _mm256_mul_epu32(keyed, _mm256_srli_epi64::<32>(keyed));
            // Swaps the words of each pair: lane `i` gets word `i ^ 1`.
            let swapped = _mm256_shuffle_epi32::<0b01_00_11_10>(data[half]);
            acc[half] = _mm256_add_epi64(product, _mm256_add_epi64(acc[half], swapped));
        }
    }

    /// The end of a block: every lane is mixed with itself and its secret
    /// word, then multiplied by the first 32-bit prime.
    #[target_feature(enable = "avx2")]
    unsafe fn scramble(acc: &mut [__m256i; 2], secret: *const u8) {
        // SAFETY: the caller hands 64 readable bytes.
        let keys = unsafe { load_pair(secret) };
        let prime = _mm256_set1_epi32(PRIME32_1 as i32);
        for half in 0..2 {
            let mixed = _mm256_xor_si256(acc[half], _mm256_srli_epi64::<47>(acc[half]));
            let keyed = _mm256_xor_si256(mixed, keys[half]);
            // A 64-bit lane times a 32-bit prime, from two 32×32 products.
            let low = _mm256_mul_epu32(keyed, prime);
            let high = _mm256_mul_epu32(_mm256_srli_epi64::<32>(keyed), prime);
            acc[half] = _mm256_add_epi64(low, _mm256_slli_epi64::<32>(high));
        }
    }

    /// Folds the eight lanes into 64 bits, with the secret from `offset`.
    fn merge(lanes: &[u64; 8], offset: usize, start: u64) -> u64 {
        let word =
            |at: usize| u64::from_le_bytes(SECRET[at..at + 8].try_into().expect("eight bytes"));
        let mut result = start;
        for pair in 0..4 {
            let left = lanes[2 * pair] ^ word(offset + 16 * pair);
            let right = lanes[2 * pair + 1] ^ word(offset + 16 * pair + 8);
            let product = u128::from(left) * u128::from(right);
            result = result.wrapping_add(product as u64 ^ (product >> 64) as u64);
        }
        result ^= result >> 37;
        result = result.wrapping_mul(0x1656_6791_9E37_79F9);
        result ^ (result >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from position to position and between lengths.
    fn bytes(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 ^ len as u8)
            .collect()
    }

    #[test]
    fn equals_xxhash_rust_at_every_length_boundary() {
        let mut lengths = vec![0, 1, 16, 17, 128, 129, 240, 241, 242, 255, 256, 1 << 20];
        // Around stripes, blocks (1024 bytes) and the last partial stripe.
        for base in [1024, 2048, 4096, 1 << 20] {
            for delta in [-65i64, -64, -63, -1, 0, 1, 63, 64, 65] {
                lengths.push((base + delta) as usize);
            }
        }
        let data = bytes((1 << 20) + 200);
        for len in lengths {
            // At an odd start too: loads are unaligned.
            for start in [0, 1, 7] {
                let input = &data[start..start + len];
                assert_eq!(
                    xxh3_128(input),
                    xxhash_rust::xxh3::xxh3_128(input),
                    "length {len}, start {start}"
                );
            }
        }
    }

    /// The AVX2 loop itself, where the CPU has it: the dispatcher above
    /// only shows it agrees when it is taken.
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    #[test]
    fn the_avx2_loop_equals_xxhash_rust() {
        if !avx2::available() {
            eprintln!("this CPU has no AVX2: only xxhash-rust's path was compared");
            return;
        }
        for len in [241, 1000, 1024, 1025, 5000, 65_537, 1 << 20] {
            let input = bytes(len);
            // SAFETY: the CPU has AVX2.
            let wide = unsafe { avx2::xxh3_128_long(&input) };
            assert_eq!(wide, xxhash_rust::xxh3::xxh3_128(&input), "length {len}");
        }
    }
}
