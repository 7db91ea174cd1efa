//! The entry decoder never trusts a file: on arbitrary bytes, on mutations
//! of valid entries and on hostile MessagePack behind a valid checksum, it
//! returns an error or the original value — never a panic, never a read out
//! of bounds, never an allocation the file's size does not justify. This is
//! the stable-Rust twin of the cargo-fuzz target in `fuzz/`.

use std::collections::BTreeMap;

use memory::entry::{self, ArgRecord, Entry, EntryMeta};
use proptest::prelude::*;

fn meta() -> EntryMeta {
    EntryMeta {
        deps: Vec::new(),
        identity: "decoder::f".into(),
        fingerprint: format!("{:032x}", 1u128),
        output_type: "alloc::vec::Vec<u64>".into(),
        call: "f(3)".into(),
        args: vec![ArgRecord {
            name: "x".into(),
            digest: format!("{:032x}", 2u128),
        }],
        type_args: vec![],
        created_ms: 1_700_000_000_000,
        duration_s: 1.5,
    }
}

/// Every decoder behind a parsed entry, as several output types.
fn decode_everything(bytes: &[u8]) {
    if let Ok(entry) = Entry::parse(bytes, None) {
        let _ = entry.meta();
        let _ = entry.output::<Vec<u64>>();
        let _ = entry.output::<String>();
        let _ = entry.output::<BTreeMap<String, Vec<String>>>();
        let _ = entry.output::<(Option<i8>, Vec<(f64, bool)>)>();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn any_change_to_a_valid_entry_is_rejected(
        output in proptest::collection::vec(any::<u64>(), 0..64),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let original = entry::encode(42, entry::type_hash("v"), &meta(), &output).unwrap();
        let mut bytes = original.clone();
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        bytes.extend(extra);
        match Entry::parse(&bytes, Some(42)) {
            // Only an edit that changed nothing may pass, and it decodes
            // to exactly the original value.
            Ok(entry) => {
                prop_assert_eq!(&bytes, &original);
                prop_assert_eq!(entry.output::<Vec<u64>>().unwrap(), output);
            }
            Err(_) => prop_assert_ne!(&bytes, &original),
        }
    }

    #[test]
    fn hostile_messagepack_behind_a_valid_checksum_never_panics(
        meta in proptest::collection::vec(any::<u8>(), 0..128),
        output in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        decode_everything(&entry::assemble(7, 0, &meta, &output));
    }
}

#[test]
fn announced_lengths_do_not_allocate_what_the_file_does_not_hold() {
    // MessagePack array32 and str32/bin32 headers announcing 4 G items,
    // with nothing behind them: decoding must fail fast, not reserve 32 GB.
    for hostile in [
        &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
        &[0xdb, 0xff, 0xff, 0xff, 0xff],
        &[0xc6, 0xff, 0xff, 0xff, 0xff],
    ] {
        let bytes = entry::assemble(7, 0, &[0x80], hostile);
        let entry = Entry::parse(&bytes, None).unwrap();
        assert!(entry.output::<Vec<u64>>().is_err());
        assert!(entry.output::<String>().is_err());
        assert!(entry.output::<Vec<u8>>().is_err());
    }
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    // 100 000 nested one-element arrays.
    let mut hostile = vec![0x91; 100_000];
    hostile.push(0x01);
    let bytes = entry::assemble(7, 0, &[0x80], &hostile);
    let entry = Entry::parse(&bytes, None).unwrap();
    assert!(entry.output::<Vec<u64>>().is_err());
    assert!(entry.output::<serde_json::Value>().is_err());
}
