#!/usr/bin/env bash
# Flakiness loops (issue 11): run from a fresh `git clone` of this repository's HEAD, never from the working tree.
#
#   scripts/loop_tests.sh concurrency N   the concurrency tests (storm, races, fault catalogue) N times in one clone
#   scripts/loop_tests.sh suite N         N fresh clones, `bash .ci/run` (the whole of `make test`) in each
#   scripts/loop_tests.sh shuffled SEED   one fresh clone, `make test` with the test order shuffled by SEED
#
# Stops at the first red run and says which; prints each run's wall time and the total. Clones go under
# LOOP_DIR (default: a new temporary folder), kept for inspection.
set -euo pipefail
mode="${1:?usage: loop_tests.sh concurrency N | suite N | shuffled SEED}"
arg="${2:-}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${LOOP_DIR:-$(mktemp -d -t autoscaler-loop.XXXXXX)}"
CONCURRENCY_TESTS=(tests/e2e/test_storm.py tests/unit/test_concurrency.py tests/unit/test_faults.py)

clone() {  # a fresh clone of HEAD in $root/$1
  rm -rf "${root:?}/$1"
  git clone --quiet "$repo" "$root/$1"
  git -C "$root/$1" checkout --quiet "$(git -C "$repo" rev-parse HEAD)"
  echo "$root/$1"
}

stamp() { date +%s; }
total_start=$(stamp)
case "$mode" in
  concurrency)
    n="${arg:-30}"
    dir="$(clone concurrency)"
    (cd "$dir" && make --no-print-directory venv >/dev/null)
    for i in $(seq 1 "$n"); do
      s=$(stamp)
      if ! (cd "$dir" && .venv/bin/python -m pytest -q -p no:cacheprovider "${CONCURRENCY_TESTS[@]}" >"$root/concurrency-$i.log" 2>&1); then
        echo "run $i of $n: RED after $(( $(stamp) - s )) s (log: $root/concurrency-$i.log)"; exit 1
      fi
      echo "run $i of $n: green in $(( $(stamp) - s )) s: $(tail -1 "$root/concurrency-$i.log")"
    done
    ;;
  suite)
    n="${arg:-3}"
    for i in $(seq 1 "$n"); do
      s=$(stamp)
      dir="$(clone "suite-$i")"
      if ! (cd "$dir" && CI=true bash .ci/run >"$root/suite-$i.log" 2>&1); then
        echo "clone $i of $n: RED after $(( $(stamp) - s )) s (log: $root/suite-$i.log)"; exit 1
      fi
      echo "clone $i of $n: green in $(( $(stamp) - s )) s: $(grep -E '^=+ .*(passed|failed)' "$root/suite-$i.log" | tail -1)"
    done
    ;;
  shuffled)
    seed="${arg:-$RANDOM}"
    s=$(stamp)
    dir="$(clone shuffled)"
    if ! (cd "$dir" && CI=true TEST_SHUFFLE_SEED="$seed" bash .ci/run >"$root/shuffled.log" 2>&1); then
      echo "shuffled (seed $seed): RED after $(( $(stamp) - s )) s (log: $root/shuffled.log)"; exit 1
    fi
    echo "shuffled (seed $seed): green in $(( $(stamp) - s )) s: $(grep -E '^=+ .*(passed|failed)' "$root/shuffled.log" | tail -1)"
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
echo "all green in $(( $(stamp) - total_start )) s (clones under $root)"
