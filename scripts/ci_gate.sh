#!/bin/sh
# A CI gate on k6intel: start a load test through the API, follow it to its end, save its JUnit XML, and fail
# the job on a failed verdict or a regression against the test's baseline. Copy it into your repository.
#
#   K6INTEL_URL   the k6intel server, e.g. https://k6intel.example.com
#   K6INTEL_KEY   an API key made with `manage.py apikey create ci --trusted` (a CI secret)
#   TARGET_URL    what to load, e.g. https://staging.example.com/api/checkout
#   TEST_NAME     the test the run joins: it is compared with that test's baseline
#   GIT_SHA       the commit under test (default: git rev-parse HEAD), a label of the run
# Optional: VUS (5), DURATION (30s), BRANCH and ENVIRONMENT (labels too), RUN_OPTIONS (more POST /api/run
# fields as a JSON object, e.g. '{"checks": {"status": 200}}'), SET_BASELINE=1 (a passing run becomes the
# test's baseline, e.g. on the main branch), JUNIT_FILE (k6intel-junit.xml).
#
# Needs curl (7.76 or later) and jq. Exit status: 0 passed without regression, 1 the verdict failed or a metric regressed,
# 2 the run could not be judged (it failed or was cancelled) or the API refused.
set -eu

: "${K6INTEL_URL:?}" "${K6INTEL_KEY:?}" "${TARGET_URL:?}" "${TEST_NAME:?}"
GIT_SHA=${GIT_SHA:-$(git rev-parse HEAD)}
JUNIT_FILE=${JUNIT_FILE:-k6intel-junit.xml}
MAX_RECONNECTS=30

api() {  # api METHOD PATH [curl options]: the body; an HTTP error ends the job (exit 2) with the API's message
  method=$1 path=$2
  shift 2
  if ! response=$(curl -sS --fail-with-body -X "$method" -H "X-API-Key: $K6INTEL_KEY" "$@" "$K6INTEL_URL$path"); then
    echo "k6intel: $method $path failed: $response" >&2
    exit 2
  fi
  printf '%s' "$response"
}

labels=$(jq -n --arg git_sha "$GIT_SHA" --arg branch "${BRANCH:-}" --arg environment "${ENVIRONMENT:-}" \
  '{$git_sha, $branch, $environment} | with_entries(select(.value != ""))')
body=$(jq -n --arg url "$TARGET_URL" --arg test "$TEST_NAME" --argjson vus "${VUS:-5}" --arg duration "${DURATION:-30s}" \
  --argjson labels "$labels" --argjson more "${RUN_OPTIONS:-null}" \
  '{$url, $vus, $duration, $test, $labels} + ($more // {})')
created=$(api POST /api/run -H 'Content-Type: application/json' -d "$body")
run_id=$(printf '%s' "$created" | jq -r .run_id)
echo "Run $run_id of test $TEST_NAME ($K6INTEL_URL/api/result/$run_id)"

# Server-sent events until the run's `end`; a dropped connection resumes after the last event it saw.
events=$(mktemp)
trap 'rm -f "$events"' EXIT
progress() {
  while IFS= read -r line; do
    case $line in
      "data: "*) printf '%s\n' "${line#data: }" | jq -r '
        if .type == "stage" then "stage \(.data.stage // "")"
        elif .type == "metrics" then "\(.data.elapsed_s) s: \(.data.vus) VUs, \(.data.rps) req/s, p95 \(.data.p95_ms) ms, errors \((.data.error_rate // 0) * 100) %"
        elif .type == "end" then "end: \(.data.status)"
        else empty end' ;;
    esac
  done
}
reconnects=0
until grep -q '^event: end' "$events"; do
  if [ "$reconnects" -gt "$MAX_RECONNECTS" ]; then
    echo "k6intel: the event stream of run $run_id kept dropping" >&2
    exit 2
  fi
  [ "$reconnects" -eq 0 ] || sleep 2
  reconnects=$((reconnects + 1))
  last_id=$(sed -n 's/^id: //p' "$events" | tail -n 1)
  curl -fsSN -H "X-API-Key: $K6INTEL_KEY" -H "Last-Event-ID: $last_id" "$K6INTEL_URL/api/run/$run_id/events" \
    | tee -a "$events" | progress || true
done

result=$(api GET "/api/result/$run_id")
api GET "/api/download/$run_id/junit" -o "$JUNIT_FILE"
printf '%s' "$result" | jq -r '"Verdict: \(.verdict.headline)", (.verdict.reasons[] | "  \(.)")'
printf '%s' "$result" | jq -r '
  if .comparison == null then "No comparison: test \(.test.name) has no baseline (or this run is it)."
  else "Compared with the baseline \(.comparison.base_id): \(.comparison.regressions | length) regression(s)",
       (.comparison.regressions[] | "  \(.)") end'
echo "JUnit XML: $JUNIT_FILE; reports: $K6INTEL_URL/api/download/$run_id (PDF), $K6INTEL_URL/api/download/$run_id/html"

verdict=$(printf '%s' "$result" | jq -r '.verdict.status // "none"')
regressions=$(printf '%s' "$result" | jq -r '.comparison.regressions // [] | length')
case $verdict in
  passed) status=0 ;;
  failed) status=1 ;;
  *) status=2 ;;
esac
if [ "$status" -eq 0 ] && [ "$regressions" -gt 0 ]; then
  status=1
fi
if [ "$status" -eq 0 ] && [ "${SET_BASELINE:-}" = 1 ]; then
  api POST "/api/run/$run_id/baseline" >/dev/null
  echo "Run $run_id is now the baseline of test $TEST_NAME."
fi
exit "$status"
