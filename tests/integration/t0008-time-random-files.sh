#!/bin/sh
# SPDX-License-Identifier: MIT
# t0008: wall-clock reads, random bytes and file opens.
#
# Runs:   tr.py: prints time.time_ns() three times, time.time(), os.urandom(16)
#         as hex, random.SystemRandom().getrandbits(64), the contents of
#         input.txt, writes out.txt, tries to open missing.txt.
# Must see: the printed times are among the trace's realtime clock values
#         (decoded with time-values.py) and within the run's window; the
#         printed random bytes equal a random event's data; file_open events
#         for input.txt (O_RDONLY), out.txt (O_CREAT, mode 0666) and missing.txt
#         (errno ENOENT), with the paths as the program gave them.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

TV="$PYTHON $SRCDIR/tests/integration/time-values.py"

cat >tr.py <<'PY'
import os
import random
import time

for _ in range(3):
    print("time_ns", time.time_ns())
print("time", repr(time.time()))
print("urandom", os.urandom(16).hex())
print("sysrandom", random.SystemRandom().getrandbits(64))
with open("input.txt") as f:
    print("input", f.read().strip())
with open("out.txt", "w") as f:
    f.write("written\n")
try:
    open("missing.txt")
except FileNotFoundError as e:
    print("missing", e.errno)
PY
echo "some input" >input.txt

test_expect_success 'bare run' '
	run_bare bare $PYTHON tr.py &&
	test_equal 0 "$(cat bare.rc)" &&
	grep -q "^urandom [0-9a-f]\{32\}\$" bare.out &&
	grep -q "^input some input\$" bare.out &&
	grep -q "^missing 2\$" bare.out
'

test_expect_success SHIM 'under the shim: exit status and deterministic lines unchanged' '
	rm -f out.txt &&
	t0=$(date +%s%N) &&
	run_shim t $PYTHON tr.py &&
	t1=$(date +%s%N) &&
	test_cmp bare.rc t.rc &&
	grep -v -E "^(time|time_ns|urandom|sysrandom) " bare.out >bare.det &&
	grep -v -E "^(time|time_ns|urandom|sysrandom) " t.out >t.det &&
	test_cmp bare.det t.det &&
	test_equal written "$(cat out.txt)" &&
	test_trace_complete t.trace
'

test_expect_success SHIM 'time events decode, and their values lie within the run' '
	zstdcat t.trace | $TV >times &&
	test -s times &&
	awk -v t0=$t0 -v t1=$t1 "\$3 == \"realtime\" && (\$4 < t0 || \$4 > t1) { print \"outside the run:\", \$0; bad = 1 }
		END { exit bad }" times &&
	test_jq t.trace "[.[] | select(.type == \"time\") | .payload]
		| all(.count >= 1 and (.first_ns | type) == \"number\"
			and (.clock | IN(\"realtime\", \"realtime_coarse\", \"tai\", \"gettimeofday\", \"time\", \"timespec_get\")))"
'

test_expect_success SHIM 'every time.time_ns() the program printed is a recorded realtime read' '
	grep "^time_ns " t.out | cut -d" " -f2 >printed &&
	test_equal 3 "$(wc -l <printed)" &&
	awk "\$3 == \"realtime\" { print \$4 }" times >recorded &&
	while read -r v; do
		grep -qx "$v" recorded || { echo "printed $v, not among the recorded realtime values:"; tail -5 recorded; return 1; }
	done <printed
'

test_expect_success SHIM 'time.time() is a recorded realtime read (to the float'\''s precision)' '
	printed=$(sed -n "s/^time //p" t.out) &&
	awk -v p="$printed" "\$3 == \"realtime\" { d = \$4 / 1e9 - p; if (d < 0) d = -d; if (d < 1e-6) found = 1 }
		END { if (!found) print \"time.time() printed\", p, \"not recorded\"; exit !found }" times
'

test_expect_success SHIM 'monotonic clocks are not recorded' '
	test_jq t.trace "[.[] | select(.type == \"time\" and (.payload.clock | test(\"mono|boot|cputime\")))] | length == 0"
'

test_expect_success SHIM 'os.urandom(16) bytes are a random event'\''s data' '
	hex=$(sed -n "s/^urandom //p" t.out) &&
	jq_trace t.trace "[.[] | select(.type == \"random\" and .payload.n == 16)]" >r16 &&
	jq -r ".[] | .payload.data_b64" r16 | while read -r b; do
		printf "%s" "$b" | base64 -d | od -An -tx1 | tr -d " \n"; echo
	done >r16.hex &&
	grep -qx "$hex" r16.hex || { echo "printed $hex; recorded 16-byte reads:"; cat r16.hex; false; } &&
	test_jq t.trace "[.[] | select(.type == \"random\" and .payload.n == 16)]
		| all(.payload.source == \"getrandom\" or .payload.source == \"/dev/urandom\")"
'

test_expect_success SHIM 'SystemRandom bytes are recorded (8 bytes, same value)' '
	v=$(sed -n "s/^sysrandom //p" t.out) &&
	jq_trace t.trace "[.[] | select(.type == \"random\" and .payload.n == 8) | .payload.data_b64]" |
		jq -r ".[]" >r8 &&
	found=0 &&
	while read -r b; do
		hex=$(printf "%s" "$b" | base64 -d | od -An -tx1 | tr -d " \n") &&
		n=$($PYTHON -c "import sys; print(int.from_bytes(bytes.fromhex(sys.argv[1]), \"big\"))" $hex) &&
		[ "$n" = "$v" ] && found=1
	done <r8 &&
	test_equal 1 $found "an 8-byte random event holding $v"
'

test_expect_success SHIM 'input.txt opened read-only, as the program named it' '
	test_jq t.trace "[.[] | select(.type == \"file_open\" and .payload.path == \"input.txt\")]
		| length == 1 and .[0].tid == 0 and (.[0].payload.fd | type) == \"number\"
		and .[0].payload.fd >= 0 and (.[0].payload.flags | test(\"^O_RDONLY(\\\\||\$)\"))
		and .[0].payload.mode == null and .[0].payload.errno == null"
'

test_expect_success SHIM 'out.txt opened with O_CREAT and its mode' '
	test_jq t.trace "[.[] | select(.type == \"file_open\" and .payload.path == \"out.txt\")]
		| length == 1 and .[0].payload.fd >= 0
		and (.[0].payload.flags | split(\"|\") | contains([\"O_WRONLY\", \"O_CREAT\", \"O_TRUNC\"]))
		and (.[0].payload.mode | test(\"^0?666\$\"))"
'

test_expect_success SHIM 'missing.txt recorded with ENOENT' '
	test_jq t.trace "[.[] | select(.type == \"file_open\" and .payload.path == \"missing.txt\")]
		| length == 1 and .[0].payload.errno == \"ENOENT\" and .[0].payload.fd == null"
'

test_done
