//! Fuzzes the entry decoder: whatever the bytes, parsing and decoding
//! return an error or a value — never a panic, an out-of-bounds read, or an
//! allocation the input does not justify.
//!
//! Two paths per input: the bytes as a whole entry file (header, lengths,
//! checksum), and the bytes as metadata + output behind a valid header and
//! checksum, so the MessagePack decoders see arbitrary input too.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use memory::entry::{self, Entry};

fn decode_everything(bytes: &[u8]) {
    if let Ok(entry) = Entry::parse(bytes, None) {
        let _ = entry.meta();
        let _ = entry.output::<Vec<u64>>();
        let _ = entry.output::<String>();
        let _ = entry.output::<BTreeMap<String, Vec<String>>>();
        let _ = entry.output::<(Option<i8>, Vec<(f64, bool)>)>();
        let _ = entry.output::<serde_json::Value>();
    }
}

fuzz_target!(|data: &[u8]| {
    decode_everything(data);
    if let Some((&split, rest)) = data.split_first() {
        let (meta, output) = rest.split_at(usize::from(split).min(rest.len()));
        decode_everything(&entry::assemble(1, 0, meta, output));
    }
});
