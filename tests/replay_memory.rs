//! The in-memory replay guard's footprint with 1,000,000 live records (issue target: at most
//! 128 MiB), measured as resident-set growth. This test binary holds this one test, so no other
//! test's allocations are counted.

use id_jag::NumericDate;
use id_jag::resource::{MemoryReplayGuard, ReplayGuard, ReplayVerdict};

fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_million_live_records_fit_in_128_mib() {
    let Some(before) = resident_kib() else {
        eprintln!("skipped: /proc/self/status is not readable here");
        return;
    };
    let now = NumericDate::from_unix_seconds(1_764_000_000).unwrap();
    let keep_until = now.saturating_add_seconds(360);
    let guard = MemoryReplayGuard::new(1_100_000);
    let mut jti = String::new();
    for n in 0..1_000_000u32 {
        jti.clear();
        jti.push_str(&n.to_string());
        let verdict = guard.check_and_record("https://idp.example.com", &jti, keep_until, now);
        assert_eq!(verdict, Ok(ReplayVerdict::Fresh));
    }
    let grown_mib = resident_kib().unwrap().saturating_sub(before) / 1024;
    eprintln!("replay guard, 1,000,000 live records: {grown_mib} MiB resident");
    assert!(grown_mib <= 128, "{grown_mib} MiB");
    // Every record is still live: a replay of any of them is refused.
    let verdict = guard.check_and_record("https://idp.example.com", "999999", keep_until, now);
    assert_eq!(verdict, Ok(ReplayVerdict::Replayed));
}
