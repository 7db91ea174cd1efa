//! Code fingerprints combined: a function's own (computed by the macro from
//! its tokens) with those of the functions it lists in `depends_on`.

/// Folds the fingerprints of `depends_on` functions into a function's own
/// (order does not matter; a dependency listed twice counts twice).
///
/// `const`, so the compiler folds it where the expansion names it.
pub const fn fold_fingerprints(own: u128, dependencies: &[u128]) -> u128 {
    let mut folded = own;
    let mut at = 0;
    while at < dependencies.len() {
        folded = folded.wrapping_add(mix(dependencies[at]));
        at += 1;
    }
    if dependencies.is_empty() {
        own
    } else {
        mix(folded ^ 0x6d656d6f_64657073)
    }
}

/// A bijective 128-bit mixer (xorshift-multiply rounds).
const fn mix(mut x: u128) -> u128 {
    x ^= x >> 67;
    x = x.wrapping_mul(0x2d35_8dcc_aa6c_78a5_9e37_79b9_7f4a_7c15);
    x ^= x >> 59;
    x = x.wrapping_mul(0x9fb2_1c65_1e98_df25_d6e8_feb8_6659_fd93);
    x ^ (x >> 71)
}

#[cfg(test)]
mod tests {
    use super::fold_fingerprints;

    #[test]
    fn no_dependencies_keep_the_own_fingerprint() {
        assert_eq!(fold_fingerprints(42, &[]), 42);
    }

    #[test]
    fn dependency_order_does_not_matter_but_each_one_counts() {
        let ab = fold_fingerprints(1, &[2, 3]);
        assert_eq!(ab, fold_fingerprints(1, &[3, 2]));
        assert_ne!(ab, fold_fingerprints(1, &[2]));
        assert_ne!(ab, fold_fingerprints(1, &[2, 3, 3]));
        assert_ne!(ab, fold_fingerprints(1, &[2, 4]));
        assert_ne!(ab, fold_fingerprints(0, &[2, 3]));
    }
}
