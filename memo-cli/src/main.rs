//! `memo`: inspect and manage a memo cache directory.

fn main() {}
