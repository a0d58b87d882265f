#!/bin/bash
# t_man.sh - the man pages (man/*.[1-9]) are clean roff and follow the program:
#  1. lint: `mandoc -T lint -W warning` when mandoc is installed, else groff's
#     warnings through `man --warnings -l -Tutf8 -Z`: any message fails;
#  2. options: for every command (serve ctl bench dump analyze), every long
#     option its --help prints appears in man/uzram-CMD.1, and every option
#     its help defines (and every short one) has an entry (.TP tag) under
#     OPTIONS; every option in those entries is one --help prints, and
#     --help has an entry exactly when `uzram CMD --help` succeeds. bench,
#     dump and analyze print a usage line instead (on standard error, exit
#     2); dump only without arguments. `uzram --help` against uzram(1): its
#     options appear there and each of its commands has a page. Options are
#     written \-\- in the pages (a bare -- is refused);
#  3. the .TH line: the page's name in capitals, its section, and the version
#     of include/uzram.h; the sections every page has;
#  4. rendering: `man -l` (mandoc -T utf8 without man-db) formats every page
#     with nothing on standard error.
# Environment: UZRAM (the program; default build/default/uzram), UZRAM_SRCDIR.
set -u
src=${UZRAM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
UZRAM=${UZRAM:-$src/build/default/uzram}
fail() { echo "FAIL: $*"; exit 1; }

have_mandoc= have_man=
command -v mandoc >/dev/null && have_mandoc=y
command -v man >/dev/null && command -v groff >/dev/null && have_man=y
if [ -z "$have_mandoc" ] && [ -z "$have_man" ]; then
	echo "SKIP: neither mandoc nor man-db with groff is installed"
	exit 77
fi
[ -x "$UZRAM" ] || fail "no program at $UZRAM (build it first: make)"
shopt -s nullglob
pages=("$src"/man/*.[1-9])
[ ${#pages[@]} -gt 0 ] || fail "no man pages in $src/man"
tmp=$(mktemp -d /tmp/uzram-man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# man-db and groff quiet about locales, no pager, a fixed width
export LC_ALL=C MANPAGER=cat PAGER=cat MANWIDTH=80
unset MANOPT MANROFFOPT

version=$(sed -n 's/^#define UZRAM_VERSION "\(.*\)"/\1/p' "$src/include/uzram.h")
[ -n "$version" ] || fail "no UZRAM_VERSION in include/uzram.h"

# ---- 1. lint, 3. the .TH line and the sections, 4. rendering ----
for p in "${pages[@]}"; do
	name=${p##*/} sec=${p##*.}
	if [ -n "$have_mandoc" ]; then
		mandoc -T lint -W warning "$p" >"$tmp/lint" 2>&1; rc=$?
		linter=mandoc
	else
		man --warnings -l -Tutf8 -Z "$p" >/dev/null 2>"$tmp/lint"; rc=$?
		linter=groff
	fi
	if [ $rc -ne 0 ] || [ -s "$tmp/lint" ]; then
		cat "$tmp/lint"
		fail "$name: $linter lint: the messages above (exit $rc)"
	fi
	# Options and hyphens meant to be typed are \-: a bare -- prints as
	# hyphens that cannot be pasted into a shell.
	if grep -vn '^\.\\"' "$p" | grep -- '--' >"$tmp/bare"; then
		cat "$tmp/bare"
		fail "$name: a bare -- outside comments (write \\-\\-)"
	fi
	th=$(grep -m1 '^\.TH ' "$p" | sed 's/\\-/-/g')
	want_title=$(echo "${name%.*}" | tr '[:lower:]' '[:upper:]')
	read -r _ title thsec _ <<<"$th"
	[ "$title" = "$want_title" ] && [ "$thsec" = "$sec" ] ||
		fail "$name: .TH says '$title $thsec', not '$want_title $sec'"
	case $th in
	*"\"uzram $version\""*) ;;
	*) fail "$name: .TH does not give \"uzram $version\" (include/uzram.h): $th" ;;
	esac
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "\.SH \"\?$s\"\?" "$p" || fail "$name: no section $s"
	done
	if [ -n "$have_man" ]; then
		man -l "$p" >"$tmp/out" 2>"$tmp/err"; rc=$?
		renderer="man -l"
	else
		mandoc -T utf8 "$p" >"$tmp/out" 2>"$tmp/err"; rc=$?
		renderer="mandoc -T utf8"
	fi
	if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || ! grep -q "^NAME" "$tmp/out" ||
	   ! grep -qE "^ *${name%.*} +- " "$tmp/out"; then
		cat "$tmp/err"
		fail "$name: $renderer exited $rc, or printed no NAME line"
	fi
	echo "$name: $linter lint clean, .TH $title $thsec uzram $version, renders with $renderer ($(wc -l <"$tmp/out") lines)"
done

# ---- 2. the options ----

# The page with \- as -, fonts and \% left out, comments dropped.
plain() {
	grep -v '^\.\\"' "$1" | sed -e 's/\\-/-/g' -e 's/\\%//g' -e 's/\\&//g' \
		-e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\c$//'
}
# The tags of the .TP entries under OPTIONS (.SS subsections included).
option_tags() {
	plain "$1" | awk '/^\.SH /{opt = ($0 ~ /^\.SH "?OPTIONS"?$/); next}
		opt && tp {print; tp = 0; next}
		opt && /^\.TP/ {tp = 1}'
}
# Does the text on stdin hold the long option $1 (--name, not --name-more)?
has_long() { grep -qE -- "(^|[^a-z0-9-])$1([^a-z0-9-]|$)"; }
has_short() { grep -qE -- "(^|[^a-zA-Z0-9-])$1([^a-zA-Z0-9-]|$)"; }

for cmd in serve ctl bench dump analyze; do
	page=$src/man/uzram-$cmd.1
	[ -f "$page" ] || fail "no man page man/uzram-$cmd.1"
	timeout 10 "$UZRAM" "$cmd" --help >"$tmp/help" 2>&1 </dev/null; hrc=$?
	[ $hrc = 124 ] && fail "uzram $cmd --help did not return"
	# Without a working --help, the usage the command prints without
	# arguments (never for serve: that starts a server).
	if [ $hrc -ne 0 ] && [ "$cmd" != serve ]; then
		timeout 10 "$UZRAM" "$cmd" >>"$tmp/help" 2>&1 </dev/null
		[ $? = 124 ] && fail "uzram $cmd without arguments did not return"
	fi
	# Leave out diagnostics ("uzram dump: unknown option '--help'").
	grep -vE "^uzram( $cmd)?: |^Try '" "$tmp/help" >"$tmp/usage"
	grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/usage" | sort -u >"$tmp/all"
	{
		grep -oE -- '^[[:space:]]*(-[A-Za-z0-9], )?--[a-z][a-z0-9-]*' "$tmp/usage" |
			grep -oE -- '--[a-z][a-z0-9-]*$'
		grep -i '^usage:' "$tmp/usage" | grep -oE -- '--[a-z][a-z0-9-]*'
	} | sort -u >"$tmp/defined"
	grep -oE -- '^[[:space:]]*-[A-Za-z0-9],' "$tmp/usage" | grep -oE -- '-[A-Za-z0-9]' |
		sort -u >"$tmp/short"
	[ -s "$tmp/defined" ] || { cat "$tmp/help"; fail "uzram $cmd: no option found in its --help"; }
	plain "$page" >"$tmp/page"
	option_tags "$page" >"$tmp/tags"
	missing=
	while read -r o; do
		has_long "$o" <"$tmp/page" || missing="$missing $o"
	done <"$tmp/all"
	[ -z "$missing" ] || fail "uzram-$cmd.1 does not mention:$missing (from uzram $cmd --help)"
	while read -r o; do
		has_long "$o" <"$tmp/tags" || missing="$missing $o"
	done <"$tmp/defined"
	while read -r o; do
		has_short "$o" <"$tmp/tags" || missing="$missing $o"
	done <"$tmp/short"
	[ -z "$missing" ] || fail "uzram-$cmd.1 has no entry under OPTIONS for:$missing"
	# The other way: the entries document options that exist.
	extra=
	for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/tags" | sort -u); do
		[ "$o" = --help ] && continue
		grep -qx -- "$o" "$tmp/all" || extra="$extra $o"
	done
	[ -z "$extra" ] || fail "uzram-$cmd.1 documents options uzram $cmd --help does not print:$extra"
	if [ $hrc -eq 0 ]; then
		has_long --help <"$tmp/tags" || fail "uzram $cmd --help works; uzram-$cmd.1 has no entry for it"
	else
		! has_long --help <"$tmp/tags" || fail "uzram $cmd --help fails (exit $hrc); uzram-$cmd.1 documents it"
	fi
	echo "uzram-$cmd.1: the $(wc -l <"$tmp/all") long options of uzram $cmd --help mentioned, $(wc -l <"$tmp/defined") long and $(wc -l <"$tmp/short") short with an entry under OPTIONS"
done

# uzram --help: its options appear in uzram(1); each command has a page and an entry.
"$UZRAM" --help >"$tmp/help" 2>&1 || fail "uzram --help exited $?"
page=$src/man/uzram.1
[ -f "$page" ] || fail "no man page man/uzram.1"
plain "$page" >"$tmp/page"
for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u); do
	has_long "$o" <"$tmp/page" || fail "uzram.1 does not mention $o (from uzram --help)"
done
cmds=$(sed -n '/^commands:/,$p' "$tmp/help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$cmds" ] || fail "no commands found in uzram --help"
plain "$page" | awk '/^\.TP/ {tp = 1; next} tp {print; tp = 0}' >"$tmp/tags"
for c in $cmds; do
	grep -qE "^\.BR? $c( |$)" "$tmp/tags" || fail "uzram.1 has no entry for the command $c"
	[ "$c" = version ] || [ -f "$src/man/uzram-$c.1" ] || fail "no man page man/uzram-$c.1 for uzram $c"
	[ "$c" = version ] || grep -q "uzram-$c (1)" "$tmp/page" || fail "uzram.1 does not refer to uzram-$c(1)"
done
echo "uzram.1: the options of uzram --help mentioned; commands $(echo $cmds) have an entry and a page"
echo "all ${#pages[@]} man pages pass"
