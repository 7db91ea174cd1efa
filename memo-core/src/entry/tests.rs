use super::*;

#[test]
fn round_trips() {
    let bytes = encode(42, type_hash("u64"), &EntryMeta::sample(), &7u64).unwrap();
    let entry = Entry::parse(&bytes, Some(42)).unwrap();
    assert_eq!(entry.output::<u64>().unwrap(), 7);
    assert_eq!(entry.meta().unwrap(), EntryMeta::sample());
    assert_eq!(entry.type_hash(), type_hash("u64"));
}

#[test]
fn every_truncation_is_detected() {
    let bytes = encode(42, 0, &EntryMeta::sample(), &"some output").unwrap();
    for len in 0..bytes.len() {
        assert!(
            Entry::parse(&bytes[..len], Some(42)).is_err(),
            "length {len}"
        );
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let bytes = encode(42, 0, &EntryMeta::sample(), &vec![1u8, 2, 3]).unwrap();
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            assert!(
                Entry::parse(&flipped, Some(42)).is_err(),
                "byte {at} bit {bit}"
            );
        }
    }
}

#[test]
fn foreign_key_newer_version_and_garbage_are_rejected() {
    let bytes = encode(42, 0, &EntryMeta::sample(), &1u8).unwrap();
    assert_eq!(
        Entry::parse(&bytes, Some(43)).unwrap_err(),
        EntryError::ForeignKey
    );
    let mut newer = bytes.clone();
    newer[8] = 2;
    assert_eq!(
        Entry::parse(&newer, None).unwrap_err(),
        EntryError::Version(2)
    );
    assert_eq!(
        Entry::parse(b"hello, world", None).unwrap_err(),
        EntryError::BadMagic
    );
    let mut appended = bytes;
    appended.push(0);
    assert_eq!(
        Entry::parse(&appended, None).unwrap_err(),
        EntryError::Trailing { extra: 1 }
    );
}

/// An entry whose output is `frame`, flagged compressed with `raw_len`.
fn compressed(frame: &[u8], raw_len: u64) -> Vec<u8> {
    let meta = rmp_serde::to_vec_named(&EntryMeta::sample()).unwrap();
    let mut bytes = assemble(1, 0, &meta, frame);
    bytes[10..12].copy_from_slice(&FLAG_ZSTD.to_le_bytes());
    bytes[56..64].copy_from_slice(&raw_len.to_le_bytes());
    let sum = checksum(&bytes[..CHECKSUM_AT], &bytes[HEADER_LEN..]);
    bytes[CHECKSUM_AT..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
    bytes
}

#[test]
fn compressed_outputs_decode_within_their_announced_length() {
    let raw = rmp_serde::to_vec(&vec![7u32; 1000]).unwrap();
    let frame = zstd::bulk::compress(&raw, 3).unwrap();
    let honest = compressed(&frame, raw.len() as u64);
    let entry = Entry::parse(&honest, None).unwrap();
    assert_eq!(entry.output::<Vec<u32>>().unwrap(), vec![7; 1000]);
    // A frame that inflates past its announced length is refused...
    let short = compressed(&frame, raw.len() as u64 - 1);
    assert!(
        Entry::parse(&short, None)
            .unwrap()
            .output::<Vec<u32>>()
            .is_err()
    );
    // ...and so is an announcement no compression ratio explains, before
    // anything is allocated for it.
    let bomb = compressed(&frame, 1 << 40);
    let error = Entry::parse(&bomb, None)
        .unwrap()
        .output::<Vec<u32>>()
        .unwrap_err();
    assert!(error.to_string().contains("implausible"), "{error}");
}

/// `file_len` is computed apart from `parts`: it must be the length of
/// what `parts` writes, with and without arrays, compressed or not.
#[test]
fn file_len_is_the_length_of_the_parts() {
    let arrays = (
        crate::Array::from_vec(vec![1.5f64; 3]),
        7u8,
        crate::Array::from_vec(vec![2u32; 33]),
    );
    let none: (u8, crate::Array<f64>) = (1, crate::Array::from_vec(vec![]));
    for level in [None, Some(3)] {
        for encoded in [
            encode_parts(1, 0, &EntryMeta::sample(), &arrays, level, None).unwrap(),
            encode_parts(1, 0, &EntryMeta::sample(), &none, level, None).unwrap(),
            encode_parts(1, 0, &EntryMeta::sample(), &"no arrays", level, None).unwrap(),
        ] {
            let written: u64 = encoded.parts().iter().map(|p| p.len() as u64).sum();
            assert_eq!(encoded.file_len(), written, "zstd {level:?}");
        }
    }
    let encoded = encode_parts(1, 0, &EntryMeta::sample(), &arrays, None, None).unwrap();
    assert!(encoded.has_blobs());
    assert_eq!(
        Entry::parse(&encoded.parts().concat(), Some(1)).map(|_| ()),
        Ok(())
    );
}

#[test]
fn huge_announced_lengths_do_not_allocate_or_panic() {
    let mut bytes = encode(42, 0, &EntryMeta::sample(), &1u8).unwrap();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        Entry::parse(&bytes, None),
        Err(EntryError::Truncated { .. })
    ));
}
