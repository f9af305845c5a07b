#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME (default 20s) each.
# A crash fails the run; the failing input is left in the package's
# testdata/fuzz directory, where `go test` replays it from then on.
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# when -fuzztime runs out while a worker is busy (golang/go#75804, fixed in
# Go 1.27), with no failing input. Such a run is repeated once; it counts
# as a failure only if a failing input was written or the output says
# anything else.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-20s}"
targets=0
flakes=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# inputs counts the inputs saved under directory $1.
inputs() {
	if [ -d "$1" ]; then
		find "$1" -type f | wc -l
	else
		echo 0
	fi
}

# spurious reports whether the run in $out failed only with the
# coordinator's deadline race, writing no input under $1.
spurious() {
	local corpus=$1 before=$2
	grep -q '^    context deadline exceeded$' "$out" || return 1
	! grep -q 'Failing input written' "$out" || return 1
	[ "$(inputs "$corpus")" -eq "$before" ]
}

while IFS=: read -r file _ line; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	pkg="./$(dirname "$file")"
	corpus="$(dirname "$file")/testdata/fuzz/$name"
	targets=$((targets + 1))
	for try in 1 2; do
		echo "== $pkg $name ($fuzztime)"
		before=$(inputs "$corpus")
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out"; then
			break
		fi
		if spurious "$corpus" "$before"; then
			echo "-- $name: the fuzz coordinator's deadline race (golang/go#75804), no failing input"
			if [ "$try" -eq 2 ]; then
				flakes=$((flakes + 1))
			fi
			continue
		fi
		exit 1
	done
done < <(git ls-files '*_test.go' | xargs grep -n '^func Fuzz' | sort)
if [ "$targets" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "$targets fuzz targets ran for $fuzztime each ($flakes ended twice in the coordinator's deadline race)"
