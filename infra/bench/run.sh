#!/usr/bin/env bash
# Forge Queue benchmarks, one command (see infra/bench/README.md):
#
#   infra/bench/run.sh [options]                  build the apps and the benchmark, then run every scenario
#   infra/bench/run.sh --quick                    a smoke run of a few minutes
#   infra/bench/run.sh --compare-with DIR ...     also run the api-gateway/gpu-worker jars saved in DIR (a baseline)
#   infra/bench/run.sh save-baseline DIR          copy the current api-gateway/gpu-worker jars to DIR
#
# It starts its own RabbitMQ (5704) and PostgreSQL (55435) under .run/bench with infra/local/*.sh (stopped again
# at the end unless --keep-servers), so the shared test servers are untouched. Options: run.sh --help.
# FQ_BENCH_SKIP_BUILD=1 skips the Maven build (the jars and target/bench.classpath must exist).
# FQ_BENCH_CURRENT_JARS=DIR runs the jars saved in DIR (save-baseline) as the "current" build instead of */target.
# Either way the current jars are copied into the results folder first, so a rebuild meanwhile changes nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

if [[ ${1:-} == save-baseline ]]; then
  [[ -n ${2:-} ]] || { echo "usage: $0 save-baseline DIR" >&2; exit 2; }
  mkdir -p "$2"
  cp api-gateway/target/api-gateway-0.1.0-SNAPSHOT.jar gpu-worker/target/gpu-worker-0.1.0-SNAPSHOT.jar "$2"/
  git rev-parse HEAD > "$2/COMMIT" 2> /dev/null || true
  git status --porcelain -- api-gateway gpu-worker > "$2/DIRTY" 2> /dev/null || true
  echo "saved the current api-gateway and gpu-worker jars in $2"
  exit 0
fi

if [[ ${FQ_BENCH_SKIP_BUILD:-0} != 1 ]]; then
  echo "building the apps and the benchmark (./mvnw -q -pl infra/bench -am package -DskipTests) ..."
  ./mvnw -q -pl infra/bench -am package -DskipTests
fi

CLASSPATH_FILE=infra/bench/target/bench.classpath
[[ -f $CLASSPATH_FILE ]] || { echo "$CLASSPATH_FILE is missing: run without FQ_BENCH_SKIP_BUILD=1" >&2; exit 1; }
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
exec "$JAVA" -Xms256m -Xmx1536m -Dforgequeue.root="$ROOT" \
  -cp "infra/bench/target/classes:$(cat "$CLASSPATH_FILE")" io.forgequeue.bench.BenchMain "$@"
