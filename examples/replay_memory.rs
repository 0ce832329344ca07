//! Measures the memory of the in-memory replay guard holding 1,000,000 live records, as the
//! growth of this process's resident set (Linux). The target is at most 128 MiB.
//!
//! ```text
//! cargo run --release --example replay_memory
//! ```

use id_jag::NumericDate;
use id_jag::resource::{MemoryReplayGuard, ReplayGuard, ReplayVerdict};

fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    const RECORDS: u64 = 1_000_000;
    let now = NumericDate::from_unix_seconds(1_764_000_000).expect("in range");
    let keep_until = now.saturating_add_seconds(360);
    let before = resident_kib();
    let guard = MemoryReplayGuard::new(1_100_000);
    for jti in 0..RECORDS {
        let verdict = guard.check_and_record(
            "https://idp.example.com",
            &format!("{jti:032x}"),
            keep_until,
            now,
        );
        assert_eq!(verdict, Ok(ReplayVerdict::Fresh));
    }
    let after = resident_kib();
    assert_eq!(guard.len(), 1_000_000);
    match (before, after) {
        (Some(before), Some(after)) => {
            let mib = after.saturating_sub(before) as f64 / 1024.0;
            println!(
                "replay guard with {RECORDS} live records: {mib:.1} MiB resident \
                 (target <= 128 MiB)"
            );
        }
        _ => println!("resident set size is not readable on this system"),
    }
}
