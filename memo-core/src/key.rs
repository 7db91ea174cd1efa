//! Keys: which entry a call maps to, and where that entry lives in a store.
//!
//! An entry's path is `<function dir>/<code version>/<key>.memo`: one
//! directory per function identity, one per code fingerprint inside it (so
//! stale code versions can be reclaimed as a whole), and the call's key as
//! the file name. The key hashes everything that decides the result: the
//! identity, the full fingerprint, the type arguments and every argument
//! digest, under the format and hashing-scheme versions.

use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_128};

use crate::entry::FORMAT_VERSION;
use crate::hash::{Digest, SCHEME_VERSION};

/// Longest readable part of a function directory name; file systems cap a
/// name at 255 bytes and long generic identities get close.
const MAX_READABLE_DIR: usize = 100;

/// A readable, file-name-safe directory name for a function identity.
///
/// `crate::module::f` becomes `crate.module.f`. When that rendering could
/// be shared by another identity (any character outside `[A-Za-z0-9_]`
/// besides the `::` separators, or a very long name), a hash of the exact
/// identity is appended, so two identities never share a directory.
pub(crate) fn dir_name(identity: &str) -> String {
    let lossless = !identity.is_empty()
        && identity.len() <= MAX_READABLE_DIR
        && identity.split("::").all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    let mut name: String = identity
        .replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_READABLE_DIR)
        .collect();
    if name.starts_with('.') {
        // Names starting with a dot are ours (temp files, markers).
        name.replace_range(0..1, "_");
    }
    if !lossless {
        name.push_str(&format!("-{:016x}", xxh3_64(identity.as_bytes())));
    }
    name
}

/// The directory of one of several definitions sharing `identity` (see
/// `registry.rs`): the identity's directory name, `@`, and a digest of the
/// definition's source location, so that managing one definition (its
/// current code version, stale versions, a clear) leaves the others alone.
pub(crate) fn shared_dir_name(identity: &str, file: &str, line: u32, column: u32) -> String {
    let location = format!("{file}:{line}:{column}");
    format!(
        "{}@{:016x}",
        dir_name(identity),
        xxh3_64(location.as_bytes())
    )
}

/// Whether `function_dir` holds entries of `identity`: its own directory,
/// or that of one of several definitions sharing it.
pub(crate) fn dir_holds(function_dir: &str, identity: &str) -> bool {
    let own = dir_name(identity);
    match function_dir.strip_prefix(own.as_str()) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('@').is_some_and(|digest| {
            digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit())
        }),
        None => false,
    }
}

/// The part of every key of one function that does not change between
/// calls; computed once per process.
pub(crate) fn key_prefix(identity: &str, fingerprint: u128) -> Digest {
    let mut hasher = Xxh3::new();
    hasher.update(b"memo-entry-key");
    hasher.update(&FORMAT_VERSION.to_le_bytes());
    hasher.update(&SCHEME_VERSION.to_le_bytes());
    hasher.update(&(identity.len() as u64).to_le_bytes());
    hasher.update(identity.as_bytes());
    hasher.update(&fingerprint.to_le_bytes());
    hasher.digest128()
}

/// Bytes of a call's key stream hashed from the stack, in one shot: most
/// calls (a few arguments, short type arguments) fit.
const ONE_SHOT: usize = 256;

/// The key of one call: xxh3-128 of the prefix, the type arguments and the
/// argument digests, each length-prefixed.
pub(crate) fn call_key(prefix: Digest, type_args: &[&str], digests: &[Digest]) -> Digest {
    let len = 16
        + 8
        + type_args.iter().map(|name| 8 + name.len()).sum::<usize>()
        + 8
        + 16 * digests.len();
    if len > ONE_SHOT {
        return call_key_streamed(prefix, type_args, digests);
    }
    // The same bytes as the streamed form, hashed at once: the one-shot
    // function skips the streaming state (its setup costs more than the
    // hashing of a small key). Fixed-size parts are written as such.
    let mut bytes = [0u8; ONE_SHOT];
    bytes[..16].copy_from_slice(&prefix.to_le_bytes());
    bytes[16..24].copy_from_slice(&(type_args.len() as u64).to_le_bytes());
    let mut at = 24;
    for name in type_args {
        bytes[at..at + 8].copy_from_slice(&(name.len() as u64).to_le_bytes());
        bytes[at + 8..at + 8 + name.len()].copy_from_slice(name.as_bytes());
        at += 8 + name.len();
    }
    bytes[at..at + 8].copy_from_slice(&(digests.len() as u64).to_le_bytes());
    at += 8;
    for digest in digests {
        bytes[at..at + 16].copy_from_slice(&digest.to_le_bytes());
        at += 16;
    }
    xxh3_128(&bytes[..len])
}

/// [`call_key`] through the streaming hasher, for keys of many arguments.
fn call_key_streamed(prefix: Digest, type_args: &[&str], digests: &[Digest]) -> Digest {
    let mut hasher = Xxh3::new();
    hasher.update(&prefix.to_le_bytes());
    hasher.update(&(type_args.len() as u64).to_le_bytes());
    for name in type_args {
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
    }
    hasher.update(&(digests.len() as u64).to_le_bytes());
    for digest in digests {
        hasher.update(&digest.to_le_bytes());
    }
    hasher.digest128()
}

/// The key of a call's result computed with particular dependencies: the
/// call's key and each recorded dependency's identity and fingerprint
/// (`None`: this binary has no such function). A result whose recorded
/// dependencies changed is kept under this key when it is replaced, so
/// reverting the change finds it again.
pub(crate) fn deps_key<'a>(
    key: Digest,
    deps: impl IntoIterator<Item = (&'a str, Option<u128>)>,
) -> Digest {
    let mut hasher = Xxh3::new();
    hasher.update(b"memo-deps-key");
    hasher.update(&key.to_le_bytes());
    for (identity, fingerprint) in deps {
        hasher.update(&(identity.len() as u64).to_le_bytes());
        hasher.update(identity.as_bytes());
        match fingerprint {
            Some(fingerprint) => {
                hasher.update(&[1]);
                hasher.update(&fingerprint.to_le_bytes());
            }
            None => hasher.update(&[0]),
        }
    }
    hasher.digest128()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identities_stay_readable() {
        assert_eq!(dir_name("my_crate::module::f"), "my_crate.module.f");
    }

    #[test]
    fn lossy_identities_get_a_hash() {
        let a = dir_name("a.b");
        let b = dir_name("a::b");
        assert_ne!(a, b);
        assert!(a.starts_with("a.b-"));
        let generic = dir_name("m::describe<u32>");
        assert!(generic.starts_with("m.describe_u32_-"), "{generic}");
        assert_ne!(dir_name("m::describe<u32>"), dir_name("m::describe<u64>"));
        assert!(!dir_name(".hidden").starts_with('.'));
        assert!(dir_name(&"x".repeat(500)).len() < 130);
    }

    #[test]
    fn shared_identities_get_a_directory_per_definition() {
        let one = shared_dir_name("m::helper", "src/main.rs", 10, 8);
        let two = shared_dir_name("m::helper", "src/main.rs", 20, 8);
        assert_ne!(one, two);
        assert!(one.starts_with("m.helper@"), "{one}");
        for dir in [&one, &two, &dir_name("m::helper")] {
            assert!(dir_holds(dir, "m::helper"), "{dir}");
        }
        assert!(!dir_holds(&one, "m::help"));
        assert!(!dir_holds("m.helper@nothex", "m::helper"));
        assert!(!dir_holds(&dir_name("m::helper"), "m::other"));
    }

    #[test]
    fn keys_separate_type_args_and_arguments() {
        let prefix = key_prefix("m::f", 1);
        assert_ne!(
            call_key(prefix, &["u32"], &[]),
            call_key(prefix, &["u64"], &[])
        );
        assert_ne!(
            call_key(prefix, &[], &[1, 2]),
            call_key(prefix, &[], &[2, 1])
        );
        assert_ne!(
            call_key(prefix, &["ab", "c"], &[]),
            call_key(prefix, &["a", "bc"], &[])
        );
        assert_ne!(key_prefix("m::f", 1), key_prefix("m::f", 2));
    }

    #[test]
    fn one_shot_keys_equal_streamed_keys() {
        let prefix = key_prefix("m::f", 7);
        let long = "t".repeat(300);
        for type_args in [
            &[][..],
            &["u32"],
            &["alloc::string::String", "u8"],
            &[&long[..]],
        ] {
            for n in [0, 1, 2, 8, 14, 15, 40] {
                let digests: Vec<Digest> = (0..n).map(|i| (i as u128) << 70 | 3).collect();
                assert_eq!(
                    call_key(prefix, type_args, &digests),
                    call_key_streamed(prefix, type_args, &digests),
                    "{type_args:?}, {n} arguments"
                );
            }
        }
    }

    #[test]
    fn dependency_keys_separate_fingerprints_and_absence() {
        let with = |fp| deps_key(7, [("m::g", fp)]);
        assert_ne!(with(Some(1)), with(Some(2)));
        assert_ne!(with(Some(0)), with(None));
        assert_ne!(with(Some(1)), deps_key(8, [("m::g", Some(1))]));
        assert_ne!(
            deps_key(7, [("ab", None), ("c", None)]),
            deps_key(7, [("a", None), ("bc", None)])
        );
    }
}
