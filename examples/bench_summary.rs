//! Reads the samples of `cargo bench --bench idjag` and prints each figure against its raw
//! OpenSSL baseline and target: the fastest sample of each (what targets are judged on) and the
//! medians. Exit status 1 when a target is missed, 2 when there is no data.
//!
//! ```text
//! cargo bench --bench idjag && cargo run --example bench_summary
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// (measured, baseline, target ratio or none, what the target is).
const COMPARISONS: &[(&str, &str, Option<f64>)] = &[
    ("verify/jws/RS256", "verify/openssl_raw/RS256", None),
    ("verify/jws/ES256", "verify/openssl_raw/ES256", None),
    ("verify/jws/EdDSA", "verify/openssl_raw/EdDSA", None),
    ("verify/redeem/RS256", "verify/openssl_raw/RS256", Some(1.10)),
    ("verify/redeem/ES256", "verify/openssl_raw/ES256", Some(1.10)),
    ("verify/redeem/EdDSA", "verify/openssl_raw/EdDSA", Some(1.10)),
    ("verify/redeem_dpop/RS256", "verify/openssl_raw/RS256", Some(2.2)),
    ("verify/redeem_dpop/ES256", "verify/openssl_raw/ES256", Some(2.2)),
    ("verify/redeem_dpop/EdDSA", "verify/openssl_raw/EdDSA", Some(2.2)),
    ("verify/redeem_full/RS256", "verify/openssl_raw/RS256", None),
    ("verify/redeem_full/ES256", "verify/openssl_raw/ES256", None),
    ("verify/redeem_full/EdDSA", "verify/openssl_raw/EdDSA", None),
    ("issue/exchange/RS256", "issue/openssl_raw/RS256", Some(1.15)),
    ("issue/exchange/ES256", "issue/openssl_raw/ES256", Some(1.15)),
    ("issue/exchange/EdDSA", "issue/openssl_raw/EdDSA", Some(1.15)),
    ("scale/redeem/100", "scale/redeem/1", Some(1.05)),
    ("scale/redeem/10000", "scale/redeem/1", Some(1.05)),
];

/// The median estimate in nanoseconds of one benchmark id, if criterion has recorded it.
fn median_ns(root: &Path, id: &str) -> Option<f64> {
    let path = root.join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates.get("median")?.get("point_estimate")?.as_f64()
}

/// The fastest sample's time per iteration in nanoseconds (each sample averages many
/// iterations). Noise on a shared machine only ever adds time, and it comes in bursts that hit
/// one benchmark's window and not its baseline's; the fastest sample is the estimate least
/// moved by it, so targets are judged on it (the medians are printed beside it).
fn fastest_ns(root: &Path, id: &str) -> Option<f64> {
    let path = root.join(id).join("new").join("sample.json");
    let text = std::fs::read_to_string(path).ok()?;
    let sample: serde_json::Value = serde_json::from_str(&text).ok()?;
    let iters = sample.get("iters")?.as_array()?;
    let times = sample.get("times")?.as_array()?;
    iters
        .iter()
        .zip(times)
        .filter_map(|(iters, time)| Some(time.as_f64()? / iters.as_f64()?))
        .filter(|per_iter| per_iter.is_finite() && *per_iter > 0.0)
        .min_by(f64::total_cmp)
}

fn main() -> ExitCode {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from);
    let root = target.join("criterion");
    let (mut shown, mut missed) = (0, 0);
    println!(
        "{:<26} {:>11} {:>8} {:>11} {:>8} {:>14}",
        "benchmark", "fastest", "ratio", "median", "ratio", "target"
    );
    for (measured, baseline, limit) in COMPARISONS {
        let (Some(fast), Some(fast_base), Some(median), Some(median_base)) = (
            fastest_ns(&root, measured),
            fastest_ns(&root, baseline),
            median_ns(&root, measured),
            median_ns(&root, baseline),
        ) else {
            continue;
        };
        shown += 1;
        let ratio = fast / fast_base;
        let verdict = match limit {
            Some(limit) if ratio <= *limit => format!("<= {limit:.2} ok"),
            Some(limit) => {
                missed += 1;
                format!("<= {limit:.2} MISSED")
            }
            None => "-".to_owned(),
        };
        println!(
            "{measured:<26} {:>8.2} us {ratio:>7.3}x {:>8.2} us {:>7.3}x {verdict:>14}",
            fast / 1000.0,
            median / 1000.0,
            median / median_base,
        );
    }
    println!(
        "(ratios against the baseline named in the benchmark's group: openssl_raw or scale/1)"
    );
    if shown == 0 {
        eprintln!(
            "no criterion estimates under {}: run `cargo bench --bench idjag` first",
            root.display()
        );
        return ExitCode::from(2);
    }
    if missed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
