#!/usr/bin/env bash
# A whole exam day through the HTTP API with curl, as README.md walks through
# it: an admin creates a level, a doctor and students; the doctor creates and
# publishes an exam; students answer; the doctor closes it ("mark for
# solving"); grading runs; results are exported; a wrong answer key is
# corrected and the exam regrades itself; the audit trail shows it all.
#
#   BASE=http://127.0.0.1:8080 ADMIN_EMAIL=admin@school.test ADMIN_PASSWORD=... scripts/examday.sh
#
# Needs curl and jq. Exits non-zero at the first unexpected answer.
set -euo pipefail
BASE="${BASE:-http://127.0.0.1:8080}"
API="$BASE/api/v1"
ADMIN_EMAIL="${ADMIN_EMAIL:-admin@school.test}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:?set ADMIN_PASSWORD (the EXAM_ADMIN_PASSWORD examd was started with)}"
RUN="$(date +%s)-$$"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# call METHOD PATH TOKEN [JSON] — prints the body; fails unless 2xx.
call() {
  local method=$1 path=$2 token=$3 body=${4:-}
  local args=(-sS -o "$out/body" -w '%{http_code}' -X "$method" "$API$path" -H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local code; code=$(curl "${args[@]}")
  if [ "${code:0:1}" != 2 ]; then echo "!! $method $path -> $code: $(cat "$out/body")" >&2; exit 1; fi
  cat "$out/body"
}
login() { curl -sS -X POST "$API/auth/login" -H 'Content-Type: application/json' \
  --data "{\"email\":\"$1\",\"password\":\"$2\"}" | jq -er .access_token; }
step() { printf '\n== %s\n' "$*"; }

step "admin logs in, creates a level, a doctor and three students"
ADMIN=$(login "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
LEVEL=$(call POST /levels "$ADMIN" "{\"name\":\"Year 2 ($RUN)\"}" | jq -r .id)
call POST /users "$ADMIN" "{\"email\":\"doctor-$RUN@school.test\",\"password\":\"doctor-pass-1\",\"full_name\":\"Dr. Amal\",\"role\":\"doctor\",\"subject\":\"Biology\"}" >/dev/null
for i in 1 2 3; do
  call POST /users "$ADMIN" "{\"email\":\"s$i-$RUN@school.test\",\"password\":\"student-pass-$i\",\"full_name\":\"Student $i\",\"role\":\"student\",\"level_id\":\"$LEVEL\",\"id_number\":\"2024-00$i\"}" >/dev/null
done
echo "level $LEVEL, 1 doctor, 3 students"

step "doctor creates an exam (one key is wrong on purpose) and publishes it"
DOC=$(login "doctor-$RUN@school.test" doctor-pass-1)
EXAM=$(call POST /exams "$DOC" "{\"title\":\"Cells quiz\",\"level_id\":\"$LEVEL\",\"time_limit_seconds\":3600,\"questions\":[
  {\"id\":\"q1\",\"text\":\"The powerhouse of the cell?\",\"kind\":\"single\",\"choices\":[{\"text\":\"Nucleus\"},{\"text\":\"Mitochondrion\"},{\"text\":\"Ribosome\"}],\"correct\":[\"a\"],\"points\":2},
  {\"id\":\"q2\",\"text\":\"Which are organelles?\",\"kind\":\"multiple\",\"choices\":[{\"text\":\"Golgi body\"},{\"text\":\"Lysosome\"},{\"text\":\"Plasma\"}],\"correct\":[\"a\",\"b\"],\"points\":2},
  {\"id\":\"q3\",\"text\":\"Plant cells have walls.\",\"kind\":\"true_false\",\"correct\":[\"true\"]}]}" | jq -r .id)
call POST "/exams/$EXAM/publish" "$DOC" | jq -c '{id, status, max_score, question_count}'

step "students fetch the exam (no answer keys) and answer"
S1=$(login "s1-$RUN@school.test" student-pass-1); S2=$(login "s2-$RUN@school.test" student-pass-2); S3=$(login "s3-$RUN@school.test" student-pass-3)
if call GET "/exams/$EXAM" "$S1" | jq -e '[.questions[] | has("correct")] | any' >/dev/null; then echo "!! a student saw an answer key" >&2; exit 1; fi
echo "student view has no keys"
call PUT "/exams/$EXAM/answers/q1" "$S1" '{"choices":["a"]}' >/dev/null
call PUT "/exams/$EXAM/answers/q1" "$S1" '{"choices":["b"]}' | jq -c .          # changes their mind
call POST "/exams/$EXAM/answers" "$S1" '{"answers":[{"question_id":"q2","choices":["a","b"]},{"question_id":"q3","choices":["true"]}]}' | jq -c .
call POST "/exams/$EXAM/submit" "$S1" | jq -c '{status}'
call POST "/exams/$EXAM/answers" "$S2" '{"answers":[{"question_id":"q1","choices":["a"]},{"question_id":"q2","choices":["a","c"]},{"question_id":"q3","choices":["false"]}]}' | jq -c .
call POST "/exams/$EXAM/answers" "$S3" '{"answers":[{"question_id":"q1","choices":["b"]},{"question_id":"q2","choices":["b"]}]}' | jq -c .
call GET "/exams/$EXAM/attempt" "$S3" | jq -c '{status, answers}'

step "doctor closes the exam (mark for solving); grading follows"
call POST "/exams/$EXAM/close" "$DOC" | jq -c '{status}'
for _ in $(seq 1 50); do
  status=$(call GET "/exams/$EXAM" "$DOC" | jq -r .status)
  [ "$status" = graded ] && break; sleep 0.2
done
[ "$status" = graded ] || { echo "!! exam not graded" >&2; exit 1; }
call GET "/exams/$EXAM/results" "$DOC" | jq -c '.items[] | {email, score, max_score, percentage}'

step "export CSV"
curl -sS "$API/exams/$EXAM/results?format=csv" -H "Authorization: Bearer $DOC" | tee "$out/results.csv"

step "the key of q1 was wrong (b is right): correct it; the exam regrades itself"
call POST "/exams/$EXAM/regrade" "$DOC" '{"dry_run":true}' | jq -c .   # nothing changes yet
call PUT "/exams/$EXAM/questions/q1/answer-key" "$DOC" '{"correct":["b"]}' | jq -c '{status, version}'
for _ in $(seq 1 50); do
  s1=$(call GET "/exams/$EXAM/result" "$S1" | jq -r .score)
  [ "$s1" = 5 ] && break; sleep 0.2
done
[ "$s1" = 5 ] || { echo "!! regrade did not give student 1 full marks (score $s1)" >&2; exit 1; }
call GET "/exams/$EXAM/results" "$DOC" | jq -c '.items[] | {email, score}'
call GET "/exams/$EXAM/result" "$S1" | jq -c '{score, max_score, percentage, questions: [.questions[] | {question_id, choices, correct, points_awarded}]}'

step "audit trail of the exam"
call GET "/exams/$EXAM/events?limit=500" "$DOC" | jq -r '.items[] | "\(.occurred_at)  \(.type)  by \(.actor.role)"' | sort | uniq -c -f1 | head -20
echo; echo "exam day complete: exam $EXAM"
