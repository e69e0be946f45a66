#!/bin/sh
# Runs in the mtr image (invoke mtr): mysql-test-run.pl on a selection of tests.
#   mysqlbuild-mtr [TEST ...] [-- OPTION ...]
# Environment: MTR_TESTDIR (where the runner and the suites are), MTR_RUNNER
# (mysql-test-run.pl), MTR_SUITES (comma list of whole suites, expanded here to
# their tests so that suites and single tests go into one run), MTR_VARDIR.
set -eu

cd "$MTR_TESTDIR" || { echo "mysqlbuild-mtr: $MTR_TESTDIR does not exist: is the test package installed?" >&2; exit 2; }
[ -f "$MTR_RUNNER" ] || { echo "mysqlbuild-mtr: no $MTR_RUNNER in $MTR_TESTDIR" >&2; exit 2; }

tests=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    tests="$tests $1"
    shift
done
[ "${1:-}" = "--" ] && shift

old_ifs=$IFS
IFS=,
for suite in ${MTR_SUITES:-}; do
    IFS=$old_ifs
    [ -n "$suite" ] || continue
    if [ "$suite" = main ]; then dir=t; else dir=suite/$suite/t; fi
    [ -d "$dir" ] || { echo "mysqlbuild-mtr: suite $suite not found ($MTR_TESTDIR/$dir)" >&2; exit 2; }
    for file in "$dir"/*.test; do
        [ -e "$file" ] || continue
        name=${file##*/}
        tests="$tests $suite.${name%.test}"
    done
done
IFS=$old_ifs

count=$(echo "$tests" | wc -w)
[ "$count" -gt 0 ] || { echo "mysqlbuild-mtr: no tests selected" >&2; exit 2; }
echo "mysqlbuild-mtr: $count tests, $(nproc) CPUs: perl $MTR_RUNNER $*"
# shellcheck disable=SC2086
exec perl "$MTR_RUNNER" --force --max-test-fail=0 --vardir="$MTR_VARDIR" "$@" $tests
