use super::*;

fn expand_str(args: &str, function: &str) -> String {
    let item: TokenStream = function.parse().expect("test function lexes");
    let (args, function) =
        crate::validate::check(syn::parse_str(args), item.clone()).expect("test input is valid");
    let fingerprint = crate::code_fingerprint::fingerprint(&item, &args);
    expand(&args, &function, fingerprint, fingerprint).to_string()
}

/// `cargo test -p memo-macros expansion_of_my_func -- --nocapture` prints
/// the expansion of the design document's example.
#[test]
fn expansion_of_my_func() {
    let expanded = expand_str(
        r#"ignore = ["debug"]"#,
        "pub fn my_func(x: u64, debug: bool) -> u64 { if debug { println!(\"{x}\"); } x }",
    );
    println!("{expanded}");
    assert!(expanded.contains(r#"params : & ["x"]"#), "{expanded}");
    assert!(
        expanded.contains("& x as & dyn __memo_crate :: __private :: Arg"),
        "{expanded}"
    );
    assert!(!expanded.contains("& debug as"), "{expanded}");
}

#[test]
fn patterns_are_renamed_and_destructured_in_the_body() {
    let expanded = expand_str(
        "",
        "fn f((a, b): (u32, u32), mut c: u32) -> u32 { c += a; c + b }",
    );
    assert!(
        expanded.contains("fn f (__memo_arg0 : (u32 , u32) , mut c : u32)"),
        "{expanded}"
    );
    assert!(
        expanded.contains("let (a , b) = __memo_arg0 ;"),
        "{expanded}"
    );
    assert!(
        expanded.contains(r#"params : & ["__memo_arg0" , "c"]"#),
        "{expanded}"
    );
}

#[test]
fn generics_name_their_types_and_hash_their_consts() {
    let expanded = expand_str(
        "",
        "fn f<'a, T: Clone, const N: usize>(x: &'a T, y: impl Copy) -> usize { N }",
    );
    assert!(expanded.contains("type_name :: < T > ()"), "{expanded}");
    assert!(expanded.contains("type_name_of_val (& y)"), "{expanded}");
    assert!(
        expanded.contains(r#"params : & ["N" , "x" , "y"]"#),
        "{expanded}"
    );
    assert!(!expanded.contains("'a >"), "{expanded}");
}

#[test]
fn methods_hash_self_and_name_their_type_first() {
    let expanded = expand_str("", "fn area(&self, scale: u32) -> u32 { self.w * scale }");
    assert!(
        expanded.contains("& [:: core :: any :: type_name :: < Self > ()]"),
        "{expanded}"
    );
    assert!(expanded.contains("&& * self as & dyn"), "{expanded}");
    assert!(
        expanded.contains(r#"params : & ["self" , "scale"]"#),
        "{expanded}"
    );
    assert!(expanded.contains("method : true"), "{expanded}");
    let by_value = expand_str("", "fn into_area(self) -> u32 { self.w }");
    assert!(by_value.contains("& self as & dyn"), "{by_value}");
    let ignored = expand_str(r#"ignore = ["self"]"#, "fn get(&self, x: u32) -> u32 { x }");
    assert!(!ignored.contains("self as & dyn"), "{ignored}");
    assert!(ignored.contains("type_name :: < Self >"), "{ignored}");
}

#[test]
fn async_functions_await_the_body() {
    let expanded = expand_str("", "async fn fetch(id: u64) -> u64 { id }");
    assert!(expanded.contains("begin_async"), "{expanded}");
    assert!(
        expanded.contains("typed :: < u64 , _ > (async move"),
        "{expanded}"
    );
    assert!(
        expanded.contains(". lookup_async (__memo_call) . await"),
        "{expanded}"
    );
    assert!(
        expanded.contains("__memo_run . record (__memo_body) . await"),
        "{expanded}"
    );
    assert!(
        expanded.contains(". complete_async (__memo_run , __memo_ran)"),
        "{expanded}"
    );
}

#[test]
fn every_function_registers_once_before_main() {
    let register = "__memo_crate :: __private :: register ! (__MEMO_FN) ;";
    for function in [
        "fn f(x: u32) -> u32 { x }",
        "fn area(&self) -> u32 { self.w }",
    ] {
        let expanded = expand_str("", function);
        assert_eq!(expanded.matches(register).count(), 1, "{expanded}");
        assert_eq!(expanded.matches("register !").count(), 1, "{expanded}");
        assert!(!expanded.contains("inventory"), "{expanded}");
    }
}

#[test]
fn a_sync_body_runs_in_the_function_between_lookup_and_complete() {
    let expanded = expand_str("", "fn f(x: u32) -> u32 { x }");
    // One call starts the call and looks it up: no `Call` in the function.
    assert!(
        expanded.contains("Output :: < u32 > :: NEW) . lookup (& __MEMO_FN , & [] , & ["),
        "{expanded}"
    );
    assert!(!expanded.contains("begin"), "{expanded}");
    // Without `return` or `?`, the body runs in a block.
    assert!(
        expanded.contains("let __memo_output : u32 = { x } ;"),
        "{expanded}"
    );
    assert!(
        expanded.contains(". complete (__memo_run , __memo_output) ;"),
        "{expanded}"
    );
    assert!(!expanded.contains("__memo_body"), "{expanded}");
    // With one, in a closure, which is only called: nothing is generic
    // over it.
    for body in ["{ if x > 1 { return 1; } x }", "{ x.checked_add(1)? }"] {
        let expanded = expand_str("", &format!("fn f(x: u32) -> Option<u32> {body}"));
        assert!(
            expanded.contains(". complete (__memo_run , ({ __memo_body }) ())"),
            "{expanded}"
        );
        assert!(!expanded.contains("Output :: of"), "{expanded}");
    }
}

#[test]
fn the_spec_writes_only_what_is_set() {
    let plain = expand_str("", "fn f(x: u32) -> u32 { x }");
    assert!(
        plain.contains(".. __memo_crate :: __private :: FnSpec :: DEFAULT"),
        "{plain}"
    );
    for field in [
        "verbose :",
        "memory :",
        "expires_after :",
        "ignore_code :",
        "method :",
    ] {
        assert!(!plain.contains(field), "{field} in {plain}");
    }
    let set = expand_str(
        "verbose = 2, ignore_code = true, version = \"1\"",
        "fn f(x: u32) -> u32 { x }",
    );
    assert!(
        set.contains("verbose : :: core :: option :: Option :: Some (2u8)"),
        "{set}"
    );
    assert!(set.contains("ignore_code : true"), "{set}");
}

#[test]
fn dependencies_fold_their_fingerprints() {
    let expanded = expand_str(
        "depends_on = [helper, util::other]",
        "fn f(x: u32) -> u32 { x }",
    );
    assert!(expanded.contains("fold_fingerprints ("), "{expanded}");
    assert!(
        expanded.contains("helper :: __MEMO_FINGERPRINT"),
        "{expanded}"
    );
    assert!(
        expanded.contains("util :: other :: __MEMO_FINGERPRINT"),
        "{expanded}"
    );
}

#[test]
fn expiry_and_validation_are_emitted() {
    let expanded = expand_str(
        r#"expires_after = "1.5h", validate = fresh"#,
        "fn f(x: u32) -> u32 { x }",
    );
    assert!(
        expanded.contains("Duration :: new (5400u64 , 0u32)"),
        "{expanded}"
    );
    assert!(expanded.contains("-> bool = fresh ;"), "{expanded}");
}

#[test]
fn associated_functions_naming_self_include_its_type() {
    let expanded = expand_str("", "fn new(x: u32) -> Self { Self { x } }");
    assert!(expanded.contains("type_name :: < Self > ()"), "{expanded}");
    let expanded = expand_str(
        "",
        "fn free(x: u32) -> u32 { struct S; impl S { fn s() -> Self { S } } x }",
    );
    assert!(!expanded.contains("type_name :: < Self >"), "{expanded}");
}

#[test]
fn crate_path_replaces_memory() {
    let expanded = expand_str("crate = crate::reexport::mem", "fn f() {}");
    assert!(!expanded.contains(":: memory"), "{expanded}");
    assert!(
        expanded.contains("use crate :: reexport :: mem as __memo_crate ;"),
        "{expanded}"
    );
}

#[test]
fn options_are_emitted() {
    let expanded = expand_str(
        r#"name = "shared", verbose = 2, memory = CACHE"#,
        "fn f() {}",
    );
    assert!(
        expanded.contains(r#"identity : :: core :: option :: Option :: Some ("shared")"#),
        "{expanded}"
    );
    assert!(
        expanded.contains("verbose : :: core :: option :: Option :: Some (2u8)"),
        "{expanded}"
    );
    assert!(expanded.contains("& CACHE"), "{expanded}");
}
