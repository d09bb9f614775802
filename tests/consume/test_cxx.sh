#!/bin/bash
# test_cxx.sh SRCDIR LIBTASKDUMP SANITIZE - every public header compiles as
# C++17 with g++ and clang++ (-Wall -Wextra -Werror -pedantic), and a C++
# program links against libtaskdump and runs (cxx_program.cpp).  With
# sanitizers (SANITIZE, meson's b_sanitize) clang++ only compiles: its
# sanitizer runtime is not gcc's, which the library was built with.
# (issue 14)
. "$(dirname "$0")/lib.sh"
SRC=$1
LIBDIR=$(dirname "$(readlink -f "$2")")
SANITIZE=$3
FLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -I"$SRC/runtime/include")

found=0
for cxx in g++ clang++; do
	command -v "$cxx" >/dev/null || { echo "no $cxx"; continue; }
	found=$((found + 1))
	step "$cxx"
	link=1
	[ "$SANITIZE" != none ] && [ "$cxx" = clang++ ] && link=0
	if [ $link = 0 ]; then
		"$cxx" "${FLAGS[@]}" -c "$SRC/tests/consume/cxx_program.cpp" \
			-o "$WORK/cxx.o" >>"$LOG" 2>&1 || fail "$cxx: does not compile"
		echo "$cxx: compiled (not linked: sanitizer build)"
		continue
	fi
	"$cxx" "${FLAGS[@]}" $(cc_flags) "$SRC/tests/consume/cxx_program.cpp" \
		-L"$LIBDIR" -ltaskdump -Wl,-rpath,"$LIBDIR" -o "$WORK/cxx-$cxx" \
		>>"$LOG" 2>&1 || fail "$cxx: does not build"
	"$WORK/cxx-$cxx" >>"$LOG" 2>&1 ||
		fail "$cxx: the program failed: $(tail -n 20 "$LOG")"
	grep -q "^cxx: ok" "$LOG" || fail "$cxx: no 'cxx: ok'"
	echo "$cxx: ok"
done
[ $found -gt 0 ] || { echo "skip: no C++ compiler"; exit 77; }
echo "ok"
