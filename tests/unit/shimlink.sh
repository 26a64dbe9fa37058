#!/bin/sh
# SPDX-License-Identifier: MIT
# shimlink.sh SO -- a shared object linked like the shim, using the redactor,
# has no DT_NEEDED libsodium and leaves no sodium symbol undefined or exported.
so=$1
echo "1..3"
if readelf -d "$so" | grep NEEDED | grep -q sodium; then
	echo "not ok 1 - no DT_NEEDED libsodium"; readelf -d "$so" | grep NEEDED | sed 's/^/# /'
else
	echo "ok 1 - no DT_NEEDED libsodium"
fi
if nm -D --undefined-only "$so" | grep -Eq 'sodium|crypto_generichash|randombytes'; then
	echo "not ok 2 - no undefined sodium symbol"
else
	echo "ok 2 - no undefined sodium symbol"
fi
if nm -D --defined-only "$so" | grep -Eq 'sodium|crypto_|randombytes'; then
	echo "not ok 3 - no exported sodium symbol"
else
	echo "ok 3 - no exported sodium symbol"
fi
