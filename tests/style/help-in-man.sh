#!/bin/sh
# SPDX-License-Identifier: MIT
# help-in-man.sh -- every --flag that `attrace --help` and `attrace VERB --help`
# print must be documented in man/attrace.1.scd (curl keeps help and manual in
# one source; we keep them honest with this test).
# Usage: help-in-man.sh ATTRACE_BIN MAN_SCD [COLLECTOR_BIN COLLECTOR_MAN_SCD]
# (the same check for `attrace-collector --help` and attrace-collector.8.scd)
set -eu
bin=$1
man=$2
cbin=${3:-}
cman=${4:-}
[ -r "$man" ] || { echo "not ok - cannot read $man"; exit 1; }
fail=0
n=0
for verb in "" record show fingerprint push; do
	# shellcheck disable=SC2086
	help=$("$bin" $verb --help) || { echo "not ok - attrace $verb --help failed"; exit 1; }
	for flag in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		n=$((n + 1))
		if grep -q -F -- "$flag" "$man"; then
			echo "ok $n - attrace ${verb:+$verb }$flag is in $(basename "$man")"
		else
			echo "not ok $n - attrace ${verb:+$verb }$flag is missing from $(basename "$man")"
			fail=1
		fi
	done
done
if [ -n "$cbin" ]; then
	help=$("$cbin" --help) || { echo "not ok - attrace-collector --help failed"; exit 1; }
	for flag in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		n=$((n + 1))
		if grep -q -F -- "$flag" "$cman"; then
			echo "ok $n - attrace-collector $flag is in $(basename "$cman")"
		else
			echo "not ok $n - attrace-collector $flag is missing from $(basename "$cman")"
			fail=1
		fi
	done
fi
echo "1..$n"
exit $fail
