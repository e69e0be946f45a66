#!/bin/bash
# sqlclients.sh: the clients of the crash and load tests (and of bench/bench_load.py).
#
# Runs in a container of the image under test, with its mysql (or mariadb)
# client, against the server at MYSQL_HOST:MYSQL_PORT (default 127.0.0.1:3306,
# the server's own network namespace) as MYSQL_USER (default root), with the
# password in MYSQL_PWD. Each session is one client connection. Needs bash 4.
#
#   sqlclients.sh stream STREAMS ROWS
#       STREAMS sessions, each commits ROWS transactions one after the other
#       into crash.acked and crash.progress and prints "ack STREAM ID" after the
#       server acknowledged the commit of row ID. Meant to be killed midway.
#       Each session ends with "end STREAM EXIT-STATUS".
#   sqlclients.sh mixed SESSIONS SECONDS
#       SESSIONS sessions at once, each for SECONDS: a transaction that writes a
#       row of its own and counts it in load.sessions, then reads (that row back,
#       an earlier row, its own count, everyone's count), and checks what it read.
#       One line a session: "session S acked A queries Q errors E", then
#       "elapsed NANOSECONDS" for the whole run. Errors are also told on stderr.
set -uo pipefail

client_bin() {
	command -v mysql || command -v mariadb || {
		echo "sqlclients.sh: no mysql or mariadb client in this image" >&2
		exit 2
	}
}
CLIENT=$(client_bin)
CONNECT=(--protocol=tcp "--host=${MYSQL_HOST:-127.0.0.1}" "--port=${MYSQL_PORT:-3306}" "--user=${MYSQL_USER:-root}")

# --- stream: the crash test's writer -------------------------------------------------------

stream_statements() {
	local stream=$1 rows=$2 id
	for ((id = 1; id <= rows; id++)); do
		printf 'BEGIN;\nINSERT INTO crash.acked (stream, id, payload) VALUES (%d, %d, REPEAT(MD5(%d), 8));\n' \
			"$stream" "$id" "$id"
		printf 'UPDATE crash.progress SET n = n + 1, last_id = %d WHERE stream = %d;\nCOMMIT;\n' "$id" "$stream"
		printf "SELECT 'ack', %d, %d;\n" "$stream" "$id"
	done
}

stream_session() {
	local stream=$1 rows=$2 status=0
	stream_statements "$stream" "$rows" | "$CLIENT" "${CONNECT[@]}" --batch --skip-column-names --unbuffered \
		|| status=$?
	echo "end $stream $status"
}

# --- mixed: the load test's sessions --------------------------------------------------------

# Read one line of the session's client; fail when it ended or says something else than expected.
expect_line() {
	local want=$1 line
	if ! IFS= read -r -t 120 line <&"${SQL[0]}"; then
		echo "session $SESSION: the client ended or went silent (expected '$want')" >&2
		return 1
	fi
	if [ "$line" != "$want" ]; then
		echo "session $SESSION: expected '$want', the server said '$line'" >&2
		return 1
	fi
}

# The total of load.sessions.writes: a number, at least this session's own writes.
expect_total() {
	local mine=$1 line
	if ! IFS= read -r -t 120 line <&"${SQL[0]}"; then
		echo "session $SESSION: the client ended or went silent (expected the total of writes)" >&2
		return 1
	fi
	case "$line" in
		'' | *[!0-9]*)
			echo "session $SESSION: expected the total of writes, the server said '$line'" >&2
			return 1
			;;
	esac
	if [ "$line" -lt "$mine" ]; then
		echo "session $SESSION: the total of writes $line is below this session's own $mine" >&2
		return 1
	fi
}

mixed_session() {
	SESSION=$1
	local seconds=$2 seq=0 acked=0 queries=0 errors=0 earlier end to_client
	trap '' PIPE
	coproc SQL { "$CLIENT" "${CONNECT[@]}" --batch --skip-column-names --unbuffered 2>&1; }
	end=$((SECONDS + seconds))
	while [ "$SECONDS" -lt "$end" ]; do
		seq=$((seq + 1))
		earlier=$((RANDOM % seq + 1))
		if ! printf '%s\n' "BEGIN;" \
			"INSERT INTO load.w (session, seq, v) VALUES ($SESSION, $seq, MD5($seq));" \
			"UPDATE load.sessions SET writes = writes + 1 WHERE session = $SESSION;" \
			"COMMIT;" \
			"SELECT v = MD5($seq) FROM load.w WHERE session = $SESSION AND seq = $seq;" \
			"SELECT v = MD5($earlier) FROM load.w WHERE session = $SESSION AND seq = $earlier;" \
			"SELECT COUNT(*) FROM load.w WHERE session = $SESSION;" \
			"SELECT writes FROM load.sessions WHERE session = $SESSION;" \
			"SELECT SUM(writes) FROM load.sessions;" 1>&"${SQL[1]}" 2>/dev/null; then
			echo "session $SESSION: the client ended before transaction $seq" >&2
			errors=$((errors + 1))
			break
		fi
		queries=$((queries + 9))
		if expect_line 1 && expect_line 1 && expect_line "$seq" && expect_line "$seq" && expect_total "$seq"; then
			acked=$seq
		else
			errors=$((errors + 1))
			break
		fi
	done
	to_client=${SQL[1]}
	exec {to_client}>&-
	wait "$SQL_PID" 2>/dev/null || true
	echo "session $SESSION acked $acked queries $queries errors $errors"
}

main() {
	local mode=${1:-} count=${2:-} amount=${3:-} started n
	case "$mode:$count:$amount" in
		stream:[1-9]*:[1-9]* | mixed:[1-9]*:[1-9]*) ;;
		*)
			echo "usage: sqlclients.sh stream STREAMS ROWS | mixed SESSIONS SECONDS" >&2
			exit 2
			;;
	esac
	started=$(date +%s%N)
	for ((n = 1; n <= count; n++)); do
		"${mode}_session" "$n" "$amount" &
	done
	wait
	echo "elapsed $(($(date +%s%N) - started))"
}

main "$@"
