//! xxh3-128 of a large run's chunks on the widest SIMD path the CPU has,
//! chosen at run time.
//!
//! xxhash-rust picks its SIMD path when it is compiled: a default x86-64
//! build gets SSE2 (two 64-bit lanes per instruction) even on a CPU with
//! AVX2 (four) or AVX-512 (eight). And its loop adds each stripe into the
//! accumulators in one chain of dependent additions, which bounds it by the
//! adder's latency at any width (~55 GB/s a core on the EPYC of
//! docs/performance.md, with AVX2 or AVX-512 compiled in, against ~37 with
//! SSE2). So the long-input loop of xxh3 (inputs over 240 bytes, which
//! every 1 MiB chunk is) is written here once more, for AVX-512 and for
//! AVX2, summing each block's stripes in two chains; the widest one the CPU
//! has is used, in any build (~110–125 GB/s a core there). Everything else,
//! and the definition the tests hold this to, is xxhash-rust's: the result
//! is bit for bit `xxhash_rust::xxh3::xxh3_128` (seed 0, default secret),
//! the algorithm is the XXH3 specification's, its secret is taken from
//! xxhash-rust, and the tests compare them over every length boundary.

use super::Digest;

/// xxh3-128 of `bytes`, on the widest path this CPU runs.
#[inline]
pub(crate) fn xxh3_128(bytes: &[u8]) -> Digest {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() > long::MID_SIZE_MAX {
        match long::Path::detected() {
            // SAFETY: the CPU has AVX-512F (detected).
            long::Path::Avx512 => return unsafe { long::avx512::xxh3_128_long(bytes) },
            // SAFETY: the CPU has AVX2 (detected).
            long::Path::Avx2 => return unsafe { long::avx2::xxh3_128_long(bytes) },
            long::Path::Baseline => {}
        }
    }
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// xxh3's long-input hash: what both widths share (the constants, the
/// block structure and the final merge), and each width's three steps.
#[cfg(target_arch = "x86_64")]
pub(super) mod long {
    use xxhash_rust::const_xxh3::const_custom_default_secret;

    /// Inputs up to this length take xxh3's short paths, not this one.
    pub(crate) const MID_SIZE_MAX: usize = 240;

    /// The default secret (seed 0), as xxhash-rust defines it.
    pub(super) static SECRET: [u8; SECRET_LEN] = const_custom_default_secret(0);
    pub(super) const SECRET_LEN: usize = 192;
    pub(super) const STRIPE: usize = 64;
    /// Bytes of secret each stripe moves along.
    pub(super) const SECRET_STEP: usize = 8;
    pub(super) const STRIPES_PER_BLOCK: usize = (SECRET_LEN - STRIPE) / SECRET_STEP;
    pub(super) const BLOCK: usize = STRIPE * STRIPES_PER_BLOCK;
    /// Where the last stripe's secret starts, back from the scramble's.
    pub(super) const LAST_STRIPE_BACK: usize = 7;
    /// Where the merges' secrets start.
    const MERGE_START: usize = 11;

    pub(super) const PRIME32_1: u32 = 0x9E37_79B1;
    const PRIME32_2: u64 = 0x85EB_CA77;
    const PRIME32_3: u64 = 0xC2B2_AE3D;
    const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
    const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
    const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
    const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

    /// The accumulators' starting values.
    pub(super) static INITIAL: [u64; 8] = [
        PRIME32_3,
        PRIME64_1,
        PRIME64_2,
        PRIME64_3,
        PRIME64_4,
        PRIME32_2,
        PRIME64_5,
        PRIME32_1 as u64,
    ];

    /// The widest long-input path this CPU runs.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub(crate) enum Path {
        Avx512,
        Avx2,
        /// xxhash-rust's own build.
        Baseline,
    }

    impl Path {
        /// Detected once by the standard library; then an atomic load.
        pub(crate) fn detected() -> Path {
            if std::is_x86_feature_detected!("avx512f") {
                Path::Avx512
            } else if std::is_x86_feature_detected!("avx2") {
                Path::Avx2
            } else {
                Path::Baseline
            }
        }
    }

    /// xxh3's long loop over `$input` into the accumulators `$acc`:
    /// block by block, each stripe's `$contribution` added in, `$scramble`
    /// between blocks, then the last stripe. Expanded inside each width's
    /// `#[target_feature]` function, so that its steps inline there.
    ///
    /// Within a block the stripes' contributions are summed in two chains,
    /// even and odd stripes, and added to the accumulators once before the
    /// scramble: the same sum (addition modulo 2^64 is associative), but
    /// not one long chain of dependent additions through the accumulators,
    /// which bounds the loop by the adder's latency instead of its
    /// throughput.
    macro_rules! long_loop {
        ($input:ident, $acc:ident, $contribution:ident, $add:ident, $scramble:ident) => {{
            use $crate::hash::wide::long::{
                BLOCK, LAST_STRIPE_BACK, SECRET, SECRET_LEN, SECRET_STEP, STRIPE, STRIPES_PER_BLOCK,
            };
            let len = $input.len();
            let start = $input.as_ptr();
            let secret = SECRET.as_ptr();
            // The contribution of the stripe at byte `at` of the input, with
            // the secret from byte `key`.
            let stripe = |at: usize, key: usize| {
                // SAFETY: every call below hands a whole stripe of the input
                // and a `key` of at most 121, leaving 64 bytes of secret.
                unsafe { $contribution(start.add(at), secret.add(key)) }
            };
            let blocks = (len - 1) / BLOCK;
            for block in 0..blocks {
                let at = block * BLOCK;
                let (mut even, mut odd) = (stripe(at, 0), stripe(at + STRIPE, SECRET_STEP));
                for pair in 1..STRIPES_PER_BLOCK / 2 {
                    let (first, second) = (2 * pair, 2 * pair + 1);
                    even = $add(even, stripe(at + first * STRIPE, first * SECRET_STEP));
                    odd = $add(odd, stripe(at + second * STRIPE, second * SECRET_STEP));
                }
                $acc = $add($acc, $add(even, odd));
                // SAFETY: the last 64 bytes of the secret.
                unsafe { $scramble(&mut $acc, secret.add(SECRET_LEN - STRIPE)) };
            }
            // The last, partial block: the whole stripes before the last
            // byte; then the input's last 64 bytes, always.
            let stripes = ((len - 1) - BLOCK * blocks) / STRIPE;
            for index in 0..stripes {
                $acc = $add(
                    $acc,
                    stripe(blocks * BLOCK + index * STRIPE, index * SECRET_STEP),
                );
            }
            $acc = $add(
                $acc,
                stripe(len - STRIPE, SECRET_LEN - STRIPE - LAST_STRIPE_BACK),
            );
        }};
    }

    /// The 128-bit digest of an input of `len` bytes from its accumulators.
    pub(super) fn digest(lanes: &[u64; 8], len: usize) -> u128 {
        let len = len as u64;
        let low = merge(lanes, MERGE_START, len.wrapping_mul(PRIME64_1));
        let high = merge(
            lanes,
            SECRET_LEN - 64 - MERGE_START,
            !len.wrapping_mul(PRIME64_2),
        );
        u128::from(low) | u128::from(high) << 64
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

    /// Four 64-bit lanes an instruction: the accumulators in two registers.
    pub(crate) mod avx2 {
        use std::arch::x86_64::{
            __m256i, _mm256_add_epi64, _mm256_loadu_si256, _mm256_mul_epu32, _mm256_set1_epi32,
            _mm256_shuffle_epi32, _mm256_slli_epi64, _mm256_srli_epi64, _mm256_storeu_si256,
            _mm256_xor_si256,
        };

        use super::{INITIAL, MID_SIZE_MAX, PRIME32_1, digest};

        /// xxh3-128 of `input`, longer than [`MID_SIZE_MAX`] bytes.
        ///
        /// # Safety
        ///
        /// The CPU must have AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn xxh3_128_long(input: &[u8]) -> u128 {
            debug_assert!(input.len() > MID_SIZE_MAX);
            // SAFETY: loads 64 bytes from a `[u64; 8]`.
            let mut acc = unsafe { load_pair(INITIAL.as_ptr().cast()) };
            long_loop!(input, acc, contribution, add, scramble);
            let mut lanes = [0u64; 8];
            // SAFETY: stores 64 bytes into a `[u64; 8]`.
            unsafe {
                _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc[0]);
                _mm256_storeu_si256(lanes.as_mut_ptr().add(4).cast(), acc[1]);
            }
            digest(&lanes, input.len())
        }

        /// Two 256-bit halves loaded from the 64 bytes at `at`.
        #[inline]
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

        /// One stripe's contribution to the accumulators: to lane `i`, the
        /// stripe's word `i ^ 1`, and the product of the halves of word `i`
        /// xor its secret word.
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn contribution(stripe: *const u8, secret: *const u8) -> [__m256i; 2] {
            // SAFETY: the caller hands 64 readable bytes of each.
            let (data, keys) = unsafe { (load_pair(stripe), load_pair(secret)) };
            std::array::from_fn(|half| {
                let keyed = _mm256_xor_si256(data[half], keys[half]);
                let product = _mm256_mul_epu32(keyed, _mm256_srli_epi64::<32>(keyed));
                // Swaps the words of each pair: lane `i` gets word `i ^ 1`.
                let swapped = _mm256_shuffle_epi32::<0b01_00_11_10>(data[half]);
                _mm256_add_epi64(product, swapped)
            })
        }

        /// Lane-wise sum.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn add(a: [__m256i; 2], b: [__m256i; 2]) -> [__m256i; 2] {
            [_mm256_add_epi64(a[0], b[0]), _mm256_add_epi64(a[1], b[1])]
        }

        /// The end of a block: every lane is mixed with itself and its
        /// secret word, then multiplied by the first 32-bit prime.
        #[inline]
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
    }

    /// Eight 64-bit lanes an instruction: the accumulators in one register.
    pub(crate) mod avx512 {
        use std::arch::x86_64::{
            __m512i, _MM_PERM_BADC, _mm512_add_epi64, _mm512_loadu_si512, _mm512_mul_epu32,
            _mm512_set1_epi32, _mm512_shuffle_epi32, _mm512_slli_epi64, _mm512_srli_epi64,
            _mm512_storeu_si512, _mm512_xor_si512,
        };

        use super::{INITIAL, MID_SIZE_MAX, PRIME32_1, digest};

        /// xxh3-128 of `input`, longer than [`MID_SIZE_MAX`] bytes.
        ///
        /// # Safety
        ///
        /// The CPU must have AVX-512F.
        #[target_feature(enable = "avx512f")]
        pub(crate) unsafe fn xxh3_128_long(input: &[u8]) -> u128 {
            debug_assert!(input.len() > MID_SIZE_MAX);
            // SAFETY: loads 64 bytes from a `[u64; 8]`.
            let mut acc = unsafe { _mm512_loadu_si512(INITIAL.as_ptr().cast()) };
            long_loop!(input, acc, contribution, add, scramble);
            let mut lanes = [0u64; 8];
            // SAFETY: stores 64 bytes into a `[u64; 8]`.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), acc) };
            digest(&lanes, input.len())
        }

        /// One stripe's contribution, as in the AVX2 path, to all eight
        /// lanes at once.
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn contribution(stripe: *const u8, secret: *const u8) -> __m512i {
            // SAFETY: the caller hands 64 readable bytes of each.
            let (data, key) = unsafe {
                (
                    _mm512_loadu_si512(stripe.cast()),
                    _mm512_loadu_si512(secret.cast()),
                )
            };
            let keyed = _mm512_xor_si512(data, key);
            let product = _mm512_mul_epu32(keyed, _mm512_srli_epi64::<32>(keyed));
            let swapped = _mm512_shuffle_epi32::<_MM_PERM_BADC>(data);
            _mm512_add_epi64(product, swapped)
        }

        /// Lane-wise sum.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn add(a: __m512i, b: __m512i) -> __m512i {
            _mm512_add_epi64(a, b)
        }

        /// The end of a block, as in the AVX2 path, on all eight lanes.
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn scramble(acc: &mut __m512i, secret: *const u8) {
            // SAFETY: the caller hands 64 readable bytes.
            let key = unsafe { _mm512_loadu_si512(secret.cast()) };
            let prime = _mm512_set1_epi32(PRIME32_1 as i32);
            let mixed = _mm512_xor_si512(*acc, _mm512_srli_epi64::<47>(*acc));
            let keyed = _mm512_xor_si512(mixed, key);
            let low = _mm512_mul_epu32(keyed, prime);
            let high = _mm512_mul_epu32(_mm512_srli_epi64::<32>(keyed), prime);
            *acc = _mm512_add_epi64(low, _mm512_slli_epi64::<32>(high));
        }
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

    /// Lengths around every boundary of the long loop: stripes, blocks
    /// (1024 bytes), the last partial stripe, a whole chunk.
    fn lengths() -> Vec<usize> {
        let mut lengths = vec![0, 1, 16, 17, 128, 129, 240, 241, 242, 255, 256, 1 << 20];
        for base in [1024, 2048, 4096, 1 << 20] {
            for delta in [-65i64, -64, -63, -1, 0, 1, 63, 64, 65] {
                lengths.push((base + delta) as usize);
            }
        }
        lengths
    }

    #[test]
    fn equals_xxhash_rust_at_every_length_boundary() {
        let data = bytes((1 << 20) + 200);
        for len in lengths() {
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

    /// Each wide loop the CPU has, whichever the dispatcher picks: the
    /// test above only shows the one it takes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_wide_loop_this_cpu_has_equals_xxhash_rust() {
        let data = bytes((1 << 20) + 200);
        type Wide = unsafe fn(&[u8]) -> u128;
        let paths: [(&str, bool, Wide); 2] = [
            (
                "AVX-512",
                std::is_x86_feature_detected!("avx512f"),
                long::avx512::xxh3_128_long,
            ),
            (
                "AVX2",
                std::is_x86_feature_detected!("avx2"),
                long::avx2::xxh3_128_long,
            ),
        ];
        for (name, available, wide) in paths {
            if !available {
                eprintln!("this CPU has no {name}: that loop was not compared");
                continue;
            }
            for len in lengths()
                .into_iter()
                .filter(|&len| len > long::MID_SIZE_MAX)
            {
                let input = &data[3..3 + len];
                // SAFETY: the CPU has the loop's features (checked above).
                let digest = unsafe { wide(input) };
                assert_eq!(
                    digest,
                    xxhash_rust::xxh3::xxh3_128(input),
                    "{name}, length {len}"
                );
            }
        }
    }
}
