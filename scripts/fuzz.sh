#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME (default 20s) each.
# A crash fails the run; the failing input is left in the package's
# testdata/fuzz directory, where `go test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-20s}"
targets=0
while IFS=: read -r file _ line; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	pkg="./$(dirname "$file")"
	echo "== $pkg $name ($fuzztime)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
	targets=$((targets + 1))
done < <(git ls-files '*_test.go' | xargs grep -n '^func Fuzz' | sort)
if [ "$targets" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "$targets fuzz targets ran for $fuzztime each"
