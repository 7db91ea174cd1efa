//! A program whose one cached function misses for several reasons, run as
//! a real process by `tests/miss_history.rs`: `reasons_worker call X`,
//! `reasons_worker refresh X`; with `FAIL` set the function returns an
//! `Err` (never stored). Caches in `$MEMO_CACHE_DIR`.

/// Expires after a second; fails when asked to.
#[memory::cache(expires_after = "1s")]
fn flaky(x: u64) -> Result<u64, String> {
    println!("computing flaky({x})");
    if std::env::var_os("FAIL").is_some() {
        Err(format!("flaky({x}) was asked to fail"))
    } else {
        Ok(x * 2)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let x: u64 = args[1].parse().expect("a number");
    let result = match args[0].as_str() {
        "call" => flaky(x),
        "refresh" => memory::handle(|| flaky(x)).refresh(),
        other => panic!("unknown command {other}"),
    };
    println!("flaky({x}) = {result:?}");
}
