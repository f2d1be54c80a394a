#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bad_args: every malformed command line exits 2 (a nonexistent pid: non-zero) with exactly
# one line on stderr naming what is wrong, and runs nothing; --help exits 0 and lists every
# option. Needs no privileges.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init --no-root

# check_bad WANT PATTERN ARG...: WANT is an exit status or "nonzero"; PATTERN an ERE that
# the stderr line must match (case-insensitive).
check_bad() {
	local want=$1 pat=$2 rc n err
	shift 2
	rm -f "$T/ran"
	timeout 10 "$USWAP_SHIM" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	err=$(<"$T/err")
	((rc != 124)) || fail "uswap-shim $*: still running after 10 s"
	if [[ $want == nonzero ]]; then
		((rc != 0)) || fail "uswap-shim $*: exited 0"
	else
		((rc == want)) || fail "uswap-shim $*: exited $rc, expected $want (stderr: $err)"
	fi
	n=$(grep -c '' "$T/err")
	((n == 1)) || fail "uswap-shim $*: $n lines on stderr, expected 1: $err"
	grep -qiE -- "$pat" "$T/err" || fail "uswap-shim $*: stderr does not mention /$pat/: $err"
	[[ ! -e $T/ran ]] || fail "uswap-shim $*: ran the command despite the bad arguments"
	note "ok ($rc): uswap-shim $* -> $err"
}

ran=(touch "$T/ran")
check_bad 2 'usage|command|run|attach' # no arguments at all
check_bad 2 'usage|command|--|CMD' run
check_bad 2 'usage|command|--|CMD' run --target 64M "${ran[@]}"
check_bad 2 '12X' run --target 12X -- "${ran[@]}"
check_bad 2 '-5' run --target -5 -- "${ran[@]}"
check_bad 2 'bogus' run --bogus -- "${ran[@]}"
check_bad 2 'target' run --target
check_bad 2 'pid' attach
check_bad 2 'pid' attach --target 64M
check_bad nonzero '999999999' attach --pid 999999999
check_bad 2 'frobnicate|command|usage' frobnicate

timeout 10 "$USWAP_SHIM" --help >"$T/out" 2>&1
rc=$?
((rc == 0)) || fail "uswap-shim --help exited $rc"
for word in run attach status --target --store --status --log --pid --json USWAP_DISABLE; do
	grep -qe "$word" "$T/out" || fail "uswap-shim --help does not mention $word: $(<"$T/out")"
done
grep -qE -- '(^|[^-[:alnum:]])-v([^[:alnum:]-]|$)|--verbose' "$T/out" ||
	fail "uswap-shim --help does not mention -v"
echo "PASS: bad arguments rejected with one line each; --help complete"
