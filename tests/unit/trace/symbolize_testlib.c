/* symbolize_testlib.c - a shared library for test_symbolize.c.
 *
 * Built three ways (tests/unit/trace/meson.build): with DWARF, without
 * (-g0: names from .symtab only), and copies stripped of everything but
 * .dynsym, or with the DWARF split off behind a .gnu_debuglink.  Each
 * function returns a return address inside itself and the line of that
 * call, for the test to symbolize.
 */
#include <stdint.h>

#define TDSYM_EXPORT __attribute__((visibility("default"), noinline))

/* The return address of this call: an address inside the caller, at the
 * call's line. */
static __attribute__((noinline)) uintptr_t lib_capture_ra(void)
{
	uintptr_t ra = (uintptr_t)__builtin_return_address(0);

	__asm__ volatile("" : "+r"(ra)); /* keep a real call, no folding */
	return ra;
}

/* Exported: in .dynsym even when stripped. */
TDSYM_EXPORT uintptr_t tdsym_lib_exported(int *line)
{
	*line = __LINE__; uintptr_t ra = lib_capture_ra();
	return ra;
}

/* Static: in .symtab and DWARF only. */
static __attribute__((noinline)) uintptr_t lib_static_fn(int *line)
{
	*line = __LINE__; uintptr_t ra = lib_capture_ra();
	return ra;
}

/* An address inside lib_static_fn. */
TDSYM_EXPORT uintptr_t tdsym_lib_static_site(int *line)
{
	uintptr_t ra = lib_static_fn(line);

	__asm__ volatile("" : "+r"(ra));
	return ra;
}
