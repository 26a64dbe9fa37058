#!/bin/sh
# SPDX-License-Identifier: MIT
# t0015: the trace file a root process starts, the cache of executable hashes,
# and the redaction key file.
#
# Runs:   cat /dev/null under the shim, with XDG_CACHE_HOME in the test's
#         directory: on a fresh cache, on the entry it wrote, on an entry
#         edited to another hash, on a damaged entry; then twice more into
#         one trace path that already holds a trace (and once into a path
#         that holds a symlink to another file).
# Must see: exe_sha256 is sha256sum's on a fresh cache, which then holds one
#         file of 65 bytes (the hash and a newline) named by the binary's
#         device, inode, size and mtime; a later run takes the hash from
#         that file (an edited entry is believed: nothing was hashed), a
#         damaged one is hashed again and rewritten; a root process empties
#         the trace it starts: the second run's trace holds one agent_start,
#         and the file it was started in keeps its inode. The redaction
#         key file is read (made, here) only by a process that meets a
#         secret: not for an environment value with "=" or "gh" in it,
#         but for a Bearer token in an argument, which the trace redacts.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

CAT=$(readlink -f "$(command -v cat)")
SUM=$(sha256sum "$CAT" | cut -d" " -f1)
CACHE=$TRASH/xdg/attrace/exe-sha256.d

exe_sha()
{
	jq_trace "$1" '.[] | select(.type == "agent_start") | .payload.exe_sha256' | tr -d '"'
}

test_expect_success SHIM 'a fresh cache: the hash is computed and kept in one file' '
	XDG_CACHE_HOME=$TRASH/xdg shim_run "$PWD/a.trace" cat /dev/null &&
	test_equal "$SUM" "$(exe_sha a.trace)" "exe_sha256 (sha256sum $CAT)" &&
	test_equal 1 "$(ls "$CACHE" | wc -l)" "files in the cache" &&
	entry=$(ls "$CACHE") &&
	test_match "^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-[0-9]+\\.[0-9]{9}\$" "$entry" "entry name" &&
	test_equal 65 "$(wc -c <"$CACHE/$entry")" "entry size" &&
	test_equal "$SUM" "$(cat "$CACHE/$entry")" "entry content"
'

test_expect_success SHIM 'a cached hash is read, not computed' '
	entry=$(ls "$CACHE") &&
	fake=$(printf "%064d" 7) &&
	printf "%s\n" "$fake" >"$CACHE/$entry" &&
	XDG_CACHE_HOME=$TRASH/xdg shim_run "$PWD/b.trace" cat /dev/null &&
	test_equal "$fake" "$(exe_sha b.trace)" "exe_sha256 from the edited entry"
'

test_expect_success SHIM 'a damaged entry is hashed again and rewritten' '
	entry=$(ls "$CACHE") &&
	printf "%s" "$SUM" | head -c 40 >"$CACHE/$entry" &&
	XDG_CACHE_HOME=$TRASH/xdg shim_run "$PWD/c.trace" cat /dev/null &&
	test_equal "$SUM" "$(exe_sha c.trace)" "exe_sha256" &&
	test_equal "$SUM" "$(cat "$CACHE/$entry")" "entry rewritten" &&
	test_equal 1 "$(ls -A "$CACHE" | wc -l)" "files in the cache (no temporary left)"
'

test_expect_success SHIM 'a root process empties the trace it starts, in place' '
	rm -f same.trace &&
	shim_run "$PWD/same.trace" cat /dev/null &&
	ino=$(stat -c %i same.trace) &&
	shim_run "$PWD/same.trace" cat /dev/null &&
	test_trace_complete same.trace &&
	test_jq same.trace "[.[] | select(.type == \"agent_start\")] | length == 1" &&
	test_equal "$ino" "$(stat -c %i same.trace)" "inode"
'

test_expect_success SHIM 'a trace path that is a symlink: its target is emptied' '
	shim_run "$PWD/target.trace" cat /dev/null &&
	ln -sf target.trace link.trace &&
	shim_run "$PWD/link.trace" cat /dev/null &&
	test -L link.trace &&
	test_trace_complete target.trace &&
	test_jq target.trace "[.[] | select(.type == \"agent_start\")] | length == 1"
'

test_expect_success SHIM 'the redaction key is read only when a secret is met' '
	(
		unset ATTRACE_REDACT_KEY XDG_CONFIG_HOME &&
		HOME=$TRASH/home OPTS="a=b;c+=d night" shim_run "$PWD/k1.trace" cat /dev/null
	) &&
	test_trace_complete k1.trace &&
	test_jq k1.trace ".[0].payload.env.OPTS == \"a=b;c+=d night\"" &&
	! test -e "$TRASH/home/.config/attrace/redact.key" &&
	(
		unset ATTRACE_REDACT_KEY XDG_CONFIG_HOME &&
		HOME=$TRASH/home shim_run "$PWD/k2.trace" \
			/bin/echo "Authorization: Bearer tok-0123456789abcdef" >k2.out
	) &&
	test -s "$TRASH/home/.config/attrace/redact.key" &&
	test_jq k2.trace ".[0].payload.argv[1] | startswith(\"Authorization: Bearer [redacted:\")"
'

test_done
