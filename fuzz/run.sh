#!/usr/bin/env bash
# Fuzz every target (or those named as arguments) for FUZZ_SECONDS seconds each, default 20.
#
# New inputs go to a scratch corpus (FUZZ_SCRATCH, default target/fuzz-corpus), seeded from the
# committed corpus/<target>, which stays small and unchanged. A crash stops that target, leaves
# the input in artifacts/<target>/ and makes the script exit non-zero after the other targets;
# minimize it with `cargo +nightly fuzz tmin <target> <artifact>` and add it to corpus/<target>.
# FUZZ_ARGS adds libFuzzer flags, e.g. "-fork=2 -ignore_crashes=1" to go on past a known crash.
# Without nightly cargo-fuzz the script says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-20}"
scratch="${FUZZ_SCRATCH:-target/fuzz-corpus}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: skipped: 'cargo +nightly fuzz' is not available" \
        "(rustup toolchain install nightly && cargo +nightly install cargo-fuzz --locked)"
    exit 0
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "== fuzz $target for ${seconds}s"
    if ! cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${extra_args[@]}"; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz/run.sh: failing targets: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "fuzz/run.sh: ${#targets[@]} targets, ${seconds}s each, no crash"
