# SPDX-License-Identifier: MIT
# replay-lib.sh -- helpers of the replay tests (t0101-t0109), sourced after
# tests/lib.sh. Each replay test records a program live against a server it
# started, stops the server, replays the trace offline with `attrace replay`
# and checks what a user would: same stdout, same exit status, same stderr
# (apart from attrace's own lines), and a final "fingerprint ... (matches ...)".
#
#   record_live NAME CMD...       attrace record -o NAME.trace -- CMD: stdout
#                                 NAME.out, stderr NAME.err, status NAME.rc
#   replay_run NAME [OPT...] TRACE -- CMD...
#                                 attrace replay OPT... TRACE -- CMD: NAME.out,
#                                 NAME.err, NAME.rc, wall time in ms NAME.ms
#   Both run attrace under `timeout $ATTRACE_RUN_TIMEOUT` (default 120 s; exit
#   124 when it expires), so that a hanging replay fails the test instead of
#   the whole script.
#   stop_servers                  kill the servers started so far and wait
#   test_replay_same LIVE REPLAY  same stdout, status and non-attrace stderr,
#                                 and REPLAY.err ends with a "matches" summary
#                                 naming LIVE's recorded fingerprint
#   test_replay_all_consumed NAME the summary says "consumed M of M" and no
#                                 event was left unused
#   test_last_line REGEX NAME     the last line of NAME.err matches REGEX

# attrace_cli_ ARGS...: attrace ARGS under timeout(1). ATTRACE_ASAN_PRELOAD:
# see attrace_record in tests/lib.sh.
attrace_cli_()
{
	if [ -n "${ATTRACE_ASAN_PRELOAD:-}" ]; then
		LD_PRELOAD=$ATTRACE_ASAN_PRELOAD timeout -k 5 "${ATTRACE_RUN_TIMEOUT:-120}" \
			"$ATTRACE_BIN" "$@"
	else
		timeout -k 5 "${ATTRACE_RUN_TIMEOUT:-120}" "$ATTRACE_BIN" "$@"
	fi
}

now_ms_()
{
	echo $(($(date +%s%N) / 1000000))
}

record_live()
{
	name_=$1
	shift
	rm -f "$name_.trace"
	attrace_cli_ record -o "$PWD/$name_.trace" -- "$@" >"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
}

replay_run()
{
	name_=$1
	shift
	t0_=$(now_ms_)
	attrace_cli_ replay "$@" >"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
	echo $(($(now_ms_) - t0_)) >"$name_.ms"
}

stop_servers()
{
	for p_ in $test_pids_; do
		kill "$p_" 2>/dev/null
	done
	for p_ in $test_pids_; do
		wait "$p_" 2>/dev/null
	done
	test_pids_=
}

# The 16-digit fingerprint `attrace record` printed in NAME.err.
recorded_fp_()
{
	sed -n 's/^attrace: trace written to .*fingerprint \([0-9a-f]\{16\}\).*/\1/p' "$1.err" | tail -n1
}

test_last_line()
{
	last_=$(tail -n1 "$2.err")
	test_match "$1" "$last_" "last line of $2's stderr" || {
		echo "--- $2.err ---"
		cut -c1-300 "$2.err" | tail -20
		return 1
	}
}

test_replay_same()
{
	live_=$1
	rep_=$2
	# Elapsed times that programs measure on the monotonic clock (curl's
	# "after 0 ms") are real in a replay, by design (libattrace(7)).
	grep -v '^attrace: ' "$live_.err" | sed 's/after [0-9]* ms/after N ms/' >"$live_.err.prog"
	grep -v '^attrace: ' "$rep_.err" | sed 's/after [0-9]* ms/after N ms/' >"$rep_.err.prog"
	fp_=$(recorded_fp_ "$live_")
	test_match '^[0-9a-f]{16}$' "$fp_" "fingerprint printed by attrace record" &&
	test_last_line "^attrace: replay consumed [0-9]+ of [0-9]+ events; fingerprint $fp_ \\(matches $fp_\\)\$" "$rep_" &&
	test_cmp "$live_.out" "$rep_.out" &&
	test_equal "$(cat "$live_.rc")" "$(cat "$rep_.rc")" "exit status of the replay" &&
	test_cmp "$live_.err.prog" "$rep_.err.prog"
}

test_replay_all_consumed()
{
	summary_=$(grep '^attrace: replay consumed ' "$1.err" | tail -n1)
	n_=$(printf '%s\n' "$summary_" | sed -n 's/.* consumed \([0-9]*\) of [0-9]* events.*/\1/p')
	m_=$(printf '%s\n' "$summary_" | sed -n 's/.* consumed [0-9]* of \([0-9]*\) events.*/\1/p')
	if [ -z "$n_" ] || [ "$n_" != "$m_" ] || grep -q '^attrace: replay left ' "$1.err"; then
		echo "expected every recorded event to be consumed; attrace said:"
		grep '^attrace: ' "$1.err" | cut -c1-400
		return 1
	fi
}
