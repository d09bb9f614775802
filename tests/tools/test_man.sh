#!/bin/bash
# test_man.sh TASKDUMP MANDIR README - the man pages (as built: MANDIR is
# the build's tools/man): one per verb and one for the tool, rendered by
# groff and man without a warning, naming the tool's version and a
# date, documenting every option of the verb's --help, and the exit
# codes word for word as README.md's table states them.  Skips (77) without
# groff or man.
. "$(dirname "$0")/lib.sh"
MAN=$2
README=$3
command -v groff >/dev/null && command -v man >/dev/null || {
	echo "skip: groff or man is not installed"
	exit 77
}
VERSION=$("$TD" --version | awk '{print $2}')

# The text of a roff source line as the reader sees it (the escapes these
# pages use).
plain() {
	sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(bu/*/g' -e 's/\\&//g'
}

# README's exit table: "N<TAB>text" with the Markdown backticks dropped.
grep -E '^\| [0-9] \| ' "$README" |
	sed -E 's/^\| ([0-9]) \| (.*) \|$/\1\t\2/' | tr -d '`' >"$WORK/readme-exit"
[ "$(wc -l <"$WORK/readme-exit")" -eq 6 ] || fail "README: no exit table of 0..5"

for page in taskdump dump run show diff fold; do
	[ "$page" = taskdump ] && f=$MAN/taskdump.1 || f=$MAN/taskdump-$page.1
	[ -f "$f" ] || fail "no man page $f"
	run groff -man -ww -z "$f"
	expect_ok
	run env MANWIDTH=80 man --warnings -l "$f"
	expect_ok
	expect_out '^NAME$'
	expect_out '^EXIT STATUS$'
	long=$(LC_ALL=C.UTF-8 grep -E '.{81}' "$OUT" | head -1)
	[ -z "$long" ] || fail "$f: a line longer than MANWIDTH: $long"
	grep -q "^\.TH .* \"taskdump $VERSION\" " "$f" ||
		fail "$f: .TH does not name taskdump $VERSION"
	# meson filled in the version and the date (tools/man/meson.build).
	grep -Eq '^\.TH [^ ]+ 1 [0-9]{4}-[0-9]{2}-[0-9]{2} "' "$f" ||
		fail "$f: .TH has no date: $(grep '^\.TH' "$f")"
	! grep -n '@[A-Z_]*@' "$f" || fail "$f: a placeholder is left"
	# The options --help lists, the page documents.
	if [ "$page" = taskdump ]; then help=(--help); else help=("$page" --help); fi
	for opt in $("$TD" "${help[@]}" | grep -oE -- '(^| )--[a-z][a-z-]*' | sort -u); do
		plain <"$f" | grep -q -- "$opt" || fail "$f does not document $opt"
	done
	# EXIT STATUS: ".TP / .B N / text" entries, each README's row N.
	sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$f" | plain | awk '
		/^\.B [0-9]$/ { if (n != "") print n "\t" t; n = $2; t = ""; next }
		/^\./ { if (n != "") print n "\t" t; n = ""; next }
		n != "" { t = t == "" ? $0 : t " " $0 }
		END { if (n != "") print n "\t" t }' >"$WORK/man-exit"
	[ -s "$WORK/man-exit" ] || fail "$f: no exit codes"
	while IFS=$'\t' read -r code text; do
		want=$(awk -F'\t' -v c="$code" '$1 == c { print $2 }' "$WORK/readme-exit")
		[ "$text" = "$want" ] ||
			fail "$f: exit $code says '$text'; README says '$want'"
		CHECKS=$((CHECKS + 1))
	done <"$WORK/man-exit"
	if [ "$page" != run ]; then
		[ "$(wc -l <"$WORK/man-exit")" -eq 6 ] || fail "$f: not every exit code"
	fi
done

# groff does warn: a page with a broken macro is caught.
printf '.TH X 1\n.SH NAME\nx \\- y\n.ZZ\n' >"$WORK/bad.1"
run groff -man -ww -z "$WORK/bad.1"
[ -s "$ERR" ] || fail "groff -ww did not warn about an unknown macro"
done_ok
