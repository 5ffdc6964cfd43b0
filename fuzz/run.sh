#!/usr/bin/env bash
# Run each atheris target for a bounded time (not part of the test command).
#
#   fuzz/run.sh                       every target, FUZZ_SECONDS (60) each
#   FUZZ_SECONDS=10 fuzz/run.sh http  one target for 10 s
#
# Corpora grow in fuzz/corpus/<target>/ (seeded on the first run), crashes
# are written to fuzz/artifacts/. Exits non-zero if any target failed.
set -uo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"

if ! "$PY" -c "import atheris" 2>/dev/null; then
  "$PY" -m pip install -q --disable-pip-version-check atheris || {
    echo "atheris could not be installed: no fuzzing here" >&2
    exit 1
  }
fi

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(frames http handshake inflate)
mkdir -p artifacts
failed=()
for name in "${targets[@]}"; do
  script="fuzz_$name.py"
  corpus="corpus/$name"
  [ -d "$corpus" ] || "$PY" "$script" --write-seeds "$corpus"
  echo "== $name: ${SECONDS_EACH}s"
  if ! "$PY" "$script" "$corpus" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$name-" -print_final_stats=1 >"artifacts/$name.log" 2>&1; then
    failed+=("$name")
    grep -v "^INFO: Instrumenting" "artifacts/$name.log" | tail -n 40
  else
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|Done " "artifacts/$name.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "all targets ran ${SECONDS_EACH}s without a failure"
