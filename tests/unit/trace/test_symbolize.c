/* test_symbolize.c - the symbolizer on real addresses of this process.
 *
 * Every address is captured for real (__builtin_return_address in a
 * noinline callee, or unw_backtrace) at a call whose line the caller
 * records with __LINE__ on the same line, so the expected lines follow the
 * source instead of being written down.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

#include "symbolize_paths.h"
#include "test_util.h"
#include "trace/symbolize.h"

#define NOINLINE __attribute__((noinline))

/* ---- functions with known names and lines --------------------------------
 * Each records the line of the call whose return address it returns. */

static NOINLINE uintptr_t capture_ra(void)
{
	uintptr_t ra = (uintptr_t)__builtin_return_address(0);

	__asm__ volatile("" : "+r"(ra)); /* keep a real call, no folding */
	return ra;
}

NOINLINE uintptr_t tdsym_outer_fn(int *line);
NOINLINE uintptr_t tdsym_outer_fn(int *line)
{
	*line = __LINE__; uintptr_t ra = capture_ra();
	return ra;
}

static NOINLINE uintptr_t tdsym_static_fn(int *line)
{
	*line = __LINE__; uintptr_t ra = capture_ra();
	return ra;
}

static inline __attribute__((always_inline)) uintptr_t
tdsym_inlined_fn(int *line)
{
	*line = __LINE__; uintptr_t ra = capture_ra();
	return ra;
}

static NOINLINE uintptr_t tdsym_inline_caller(int *inner, int *call)
{
	*call = __LINE__; uintptr_t ra = tdsym_inlined_fn(inner);
	__asm__ volatile("" : "+r"(ra));
	return ra;
}

/* Two inline levels: inner2 inlined into inner1 inlined into the caller. */
static inline __attribute__((always_inline)) uintptr_t
tdsym_inline2(int *l2)
{
	*l2 = __LINE__; uintptr_t ra = capture_ra();
	return ra;
}

static inline __attribute__((always_inline)) uintptr_t
tdsym_inline1(int *l1, int *l2)
{
	*l1 = __LINE__; uintptr_t ra = tdsym_inline2(l2);
	__asm__ volatile("" : "+r"(ra));
	return ra;
}

static NOINLINE uintptr_t tdsym_inline_caller2(int *l0, int *l1, int *l2)
{
	*l0 = __LINE__; uintptr_t ra = tdsym_inline1(l1, l2);
	__asm__ volatile("" : "+r"(ra));
	return ra;
}

/* unw_backtrace from two noinline levels. */
static NOINLINE int tdsym_unw_inner(void **ips, int max, int *line)
{
	*line = __LINE__; int n = unw_backtrace(ips, max);
	__asm__ volatile("" : "+r"(n));
	return n;
}

static NOINLINE int tdsym_unw_outer(void **ips, int max, int *il, int *ol)
{
	*ol = __LINE__; int n = tdsym_unw_inner(ips, max, il);
	__asm__ volatile("" : "+r"(n));
	return n;
}

/* ---- helpers ---------------------------------------------------------- */

static const char *base(const char *path)
{
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;

	return slash != NULL ? slash + 1 : path;
}

static void check_frame(const td_sym_frame *f, const char *function,
			const char *file, int line, bool inlined)
{
	ck_assert_ptr_nonnull(f->function);
	ck_assert_str_eq(f->function, function);
	ck_assert_ptr_nonnull(f->file);
	ck_assert_str_eq(base(f->file), file);
	ck_assert_int_eq(f->line, line);
	ck_assert_int_eq(f->inlined, inlined);
	ck_assert(f->has_debuginfo);
	ck_assert_ptr_nonnull(f->module);
}

static const td_sym_frame *sym(struct td_symbolizer *s, uintptr_t ip,
			       bool is_ret, size_t *n)
{
	const td_sym_frame *frames = NULL;

	ck_assert_int_eq(td_symbolize(s, ip, is_ret, &frames, n), 0);
	ck_assert_ptr_nonnull(frames);
	ck_assert_uint_ge(*n, 1);
	return frames;
}

static void *open_lib(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	ck_assert_msg(h != NULL, "dlopen %s: %s", path, dlerror());
	return h;
}

typedef uintptr_t (*lib_fn)(int *line);

static lib_fn lib_sym(void *h, const char *name)
{
	lib_fn fn;
	void *p = dlsym(h, name);

	ck_assert_msg(p != NULL, "dlsym %s", name);
	memcpy(&fn, &p, sizeof(fn));
	return fn;
}

/* The load bias of the object containing addr (0: a non-PIE executable). */
static uintptr_t load_base(uintptr_t addr)
{
	Dl_info info;
	struct link_map *map = NULL;

	ck_assert(dladdr1((void *)addr, &info, (void **)&map,
			  RTLD_DL_LINKMAP) != 0);
	ck_assert_ptr_nonnull(map);
	return (uintptr_t)map->l_addr;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_noinline_function)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int line;
	size_t n;

	ck_assert_ptr_nonnull(s);
	uintptr_t ra = tdsym_outer_fn(&line);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 1);
	check_frame(&f[0], "tdsym_outer_fn", "test_symbolize.c", line, false);
	/* test_symbolize, or test_symbolize_nopie. */
	ck_assert_str_eq(f[0].module, program_invocation_short_name);
	ck_assert_uint_gt(f[0].symbol_offset, 0);
	/* The executable (PIE or not): offset is the ELF vaddr. */
	ck_assert_uint_eq(f[0].module_offset, ra - load_base(ra));
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_static_function)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int line;
	size_t n;

	uintptr_t ra = tdsym_static_fn(&line);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 1);
	check_frame(&f[0], "tdsym_static_fn", "test_symbolize.c", line, false);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_inlined_frames)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int inner, call;
	size_t n;

	uintptr_t ra = tdsym_inline_caller(&inner, &call);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 2);
	check_frame(&f[0], "tdsym_inlined_fn", "test_symbolize.c", inner, true);
	check_frame(&f[1], "tdsym_inline_caller", "test_symbolize.c", call,
		    false);
	ck_assert_uint_eq(f[0].module_offset, f[1].module_offset);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_nested_inlined_frames)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int l0, l1, l2;
	size_t n;

	uintptr_t ra = tdsym_inline_caller2(&l0, &l1, &l2);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 3);
	check_frame(&f[0], "tdsym_inline2", "test_symbolize.c", l2, true);
	check_frame(&f[1], "tdsym_inline1", "test_symbolize.c", l1, true);
	check_frame(&f[2], "tdsym_inline_caller2", "test_symbolize.c", l0,
		    false);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_unw_backtrace)
{
	struct td_symbolizer *s = td_symbolizer_new();
	void *ips[16];
	int il, ol;
	size_t n;

	int depth = tdsym_unw_outer(ips, 16, &il, &ol);
	ck_assert_int_ge(depth, 3);
	const td_sym_frame *f = sym(s, (uintptr_t)ips[0], true, &n);
	check_frame(&f[n - 1], "tdsym_unw_inner", "test_symbolize.c", il,
		    false);
	f = sym(s, (uintptr_t)ips[1], true, &n);
	check_frame(&f[n - 1], "tdsym_unw_outer", "test_symbolize.c", ol,
		    false);
	f = sym(s, (uintptr_t)ips[2], true, &n);
	ck_assert_str_eq(f[n - 1].function, "test_unw_backtrace_fn");
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_not_return_address)
{
	struct td_symbolizer *s = td_symbolizer_new();
	size_t n;

	/* A function's entry is no return address: looked up as is. */
	uintptr_t entry = (uintptr_t)tdsym_outer_fn;
	const td_sym_frame *f = sym(s, entry, false, &n);
	ck_assert_str_eq(f[n - 1].function, "tdsym_outer_fn");
	ck_assert_uint_eq(f[n - 1].symbol_offset, 0);
	ck_assert_ptr_nonnull(f[n - 1].file);
	ck_assert_int_gt(f[n - 1].line, 0);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_cache_same_pointer)
{
	struct td_symbolizer *s = td_symbolizer_new();
	const td_sym_frame *a, *b, *c;
	size_t na, nb, nc;
	int inner, call;

	uintptr_t ra = tdsym_inline_caller(&inner, &call);
	ck_assert_int_eq(td_symbolize(s, ra, true, &a, &na), 0);
	ck_assert_int_eq(td_symbolize(s, ra, true, &b, &nb), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_uint_eq(na, nb);
	/* Not a return address: another entry. */
	ck_assert_int_eq(td_symbolize(s, ra, false, &c, &nc), 0);
	ck_assert_ptr_ne(a, c);
	/* Fill the table past a few growths: earlier answers survive. */
	for (uintptr_t i = 0; i < 1000; i++)
		ck_assert_int_eq(td_symbolize(s, ra + 1 + i, true, &c, &nc),
				 0);
	ck_assert_int_eq(td_symbolize(s, ra, true, &b, &nb), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_str_eq(b[0].function, "tdsym_inlined_fn");
	ck_assert_int_eq(td_symbolize(NULL, ra, true, &b, &nb), -EINVAL);
	ck_assert_int_eq(td_symbolize(s, ra, true, NULL, &nb), -EINVAL);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_null_and_unmapped)
{
	struct td_symbolizer *s = td_symbolizer_new();
	size_t n;

	const td_sym_frame *f = sym(s, 0, true, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(f[0].function, "0x0");
	ck_assert_ptr_null(f[0].file);
	ck_assert_ptr_null(f[0].module);
	ck_assert(!f[0].has_debuginfo);
	f = sym(s, 0, false, &n);
	ck_assert_str_eq(f[0].function, "0x0");

	uintptr_t bad = (uintptr_t)0xdead0000beefull;
	f = sym(s, bad, true, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(f[0].function, "0xdead0000beef");
	ck_assert_ptr_null(f[0].file);
	ck_assert_int_eq(f[0].line, 0);
	f = sym(s, UINTPTR_MAX, false, &n);
	ck_assert_ptr_nonnull(f[0].function);
	ck_assert_ptr_null(f[0].file);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_dlopen_after_new)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int line;
	size_t n;

	ck_assert_ptr_nonnull(s);
	void *h = open_lib(TDSYM_LIB);
	uintptr_t ra = lib_sym(h, "tdsym_lib_exported")(&line);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 1);
	check_frame(&f[0], "tdsym_lib_exported", "symbolize_testlib.c", line,
		    false);
	ck_assert_str_eq(f[0].module, "libtdsym_testlib.so");
	ck_assert_uint_eq(f[0].module_offset, ra - load_base(ra));

	ra = lib_sym(h, "tdsym_lib_static_site")(&line);
	f = sym(s, ra, true, &n);
	check_frame(&f[n - 1], "lib_static_fn", "symbolize_testlib.c", line,
		    false);
	/* Still answered (and from the cache) after the library is gone. */
	ck_assert_int_eq(dlclose(h), 0);
	const td_sym_frame *g = sym(s, ra, true, &n);
	ck_assert_ptr_eq(f, g);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_no_debuginfo_symtab)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int line;
	size_t n;

	void *h = open_lib(TDSYM_LIB_NODEBUG);
	uintptr_t ra = lib_sym(h, "tdsym_lib_static_site")(&line);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 1);
	/* A static function: .symtab only (GCC may suffix a clone). */
	ck_assert_msg(strncmp(f[0].function, "lib_static_fn", 13) == 0,
		      "got %s", f[0].function);
	ck_assert_ptr_null(f[0].file);
	ck_assert(!f[0].has_debuginfo);
	ck_assert_uint_gt(f[0].symbol_offset, 0);
	ck_assert_str_eq(f[0].module, "libtdsym_testlib_nodebug.so");
	dlclose(h);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_stripped_library)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int line;
	size_t n;

	void *h = open_lib(TDSYM_LIB_STRIPPED);
	/* Exported: .dynsym still names it. */
	uintptr_t ra = lib_sym(h, "tdsym_lib_exported")(&line);
	const td_sym_frame *f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(f[0].function, "tdsym_lib_exported");
	ck_assert_ptr_null(f[0].file);
	ck_assert(!f[0].has_debuginfo);
	ck_assert_uint_gt(f[0].symbol_offset, 0);
	ck_assert_uint_eq(ra - f[0].symbol_offset,
			  (uintptr_t)dlsym(h, "tdsym_lib_exported"));

	/* Static: no symbol left; module+offset. */
	ra = lib_sym(h, "tdsym_lib_static_site")(&line);
	f = sym(s, ra, true, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(f[0].function);
	ck_assert_ptr_null(f[0].file);
	ck_assert_str_eq(f[0].module, "libtdsym_testlib_stripped.so");
	ck_assert_uint_eq(f[0].module_offset, ra - load_base(ra));
	char want[128];
	snprintf(want, sizeof(want), "libtdsym_testlib_stripped.so+0x%lx",
		 (unsigned long)f[0].module_offset);
	ck_assert_str_eq(f[0].function, want);
	dlclose(h);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_debuglink_library)
{
	struct td_symbolizer *s = td_symbolizer_new();
	int line;
	size_t n;

	void *h = open_lib(TDSYM_LIB_SPLIT);
	uintptr_t ra = lib_sym(h, "tdsym_lib_static_site")(&line);
	const td_sym_frame *f = sym(s, ra, true, &n);
	check_frame(&f[n - 1], "lib_static_fn", "symbolize_testlib.c", line,
		    false);
	ck_assert_str_eq(f[n - 1].module, "libtdsym_testlib_split.so");
	dlclose(h);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_refresh)
{
	struct td_symbolizer *s = td_symbolizer_new();
	const td_sym_frame *a, *b;
	size_t na, nb;
	int line;

	uintptr_t ra = tdsym_outer_fn(&line);
	ck_assert_int_eq(td_symbolize(s, ra, true, &a, &na), 0);
	ck_assert_int_eq(td_symbolizer_refresh(s), 0);
	void *h = open_lib(TDSYM_LIB);
	ck_assert_int_eq(td_symbolizer_refresh(s), 1);
	ck_assert_int_eq(td_symbolizer_refresh(s), 0);
	/* The cache was cleared; the old array is still readable. */
	ck_assert_int_eq(td_symbolize(s, ra, true, &b, &nb), 0);
	ck_assert_ptr_ne(a, b);
	ck_assert_str_eq(a[0].function, b[0].function);
	ck_assert_int_eq(a[0].line, b[0].line);
	dlclose(h);
	td_symbolizer_free(s);
}
END_TEST

START_TEST(test_vdso)
{
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	size_t n;

	if (vdso == 0)
		return; /* no vDSO here */
	struct td_symbolizer *s = td_symbolizer_new();
	const td_sym_frame *f = sym(s, vdso + 0x10, false, &n);
	ck_assert_ptr_nonnull(f[0].function);
	ck_assert_str_eq(f[0].module, "[vdso]");
	ck_assert_uint_eq(f[0].module_offset, 0x10);
	td_symbolizer_free(s);
}
END_TEST

/* ---- threads: one instance per thread, concurrently ---------------- */

struct thread_arg {
	uintptr_t ips[3];
	bool ok;
};

static void *symbolize_thread(void *p)
{
	struct thread_arg *arg = p;
	static const char *const want[3] = {"tdsym_outer_fn",
					    "tdsym_static_fn",
					    "tdsym_inline_caller"};

	arg->ok = true;
	for (int round = 0; round < 5; round++) {
		struct td_symbolizer *s = td_symbolizer_new();
		if (s == NULL) {
			arg->ok = false;
			return NULL;
		}
		for (int i = 0; i < 3; i++) {
			const td_sym_frame *f;
			size_t n;
			if (td_symbolize(s, arg->ips[i], true, &f, &n) != 0 ||
			    strcmp(f[n - 1].function, want[i]) != 0)
				arg->ok = false;
		}
		td_symbolizer_free(s);
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t t[4];
	struct thread_arg args[4];
	int l1, l2;

	for (int i = 0; i < 4; i++) {
		args[i].ips[0] = tdsym_outer_fn(&l1);
		args[i].ips[1] = tdsym_static_fn(&l1);
		args[i].ips[2] = tdsym_inline_caller(&l1, &l2);
		ck_assert_int_eq(pthread_create(&t[i], NULL, symbolize_thread,
						&args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert(args[i].ok);
	}
}
END_TEST

/* ---- micro benchmark (printed, not asserted) ------------------------- */

#define CHAIN_FN(n, next)                                                   \
	static NOINLINE int chain##n(void **ips)                            \
	{                                                                   \
		int r = next(ips);                                          \
		__asm__ volatile("" : "+r"(r));                             \
		return r;                                                   \
	}

static NOINLINE int chain0(void **ips)
{
	int r = unw_backtrace(ips, 64);
	__asm__ volatile("" : "+r"(r));
	return r;
}
CHAIN_FN(1, chain0) CHAIN_FN(2, chain1) CHAIN_FN(3, chain2)
CHAIN_FN(4, chain3) CHAIN_FN(5, chain4) CHAIN_FN(6, chain5)
CHAIN_FN(7, chain6) CHAIN_FN(8, chain7) CHAIN_FN(9, chain8)
CHAIN_FN(10, chain9) CHAIN_FN(11, chain10) CHAIN_FN(12, chain11)
CHAIN_FN(13, chain12) CHAIN_FN(14, chain13) CHAIN_FN(15, chain14)
CHAIN_FN(16, chain15) CHAIN_FN(17, chain16) CHAIN_FN(18, chain17)
CHAIN_FN(19, chain18) CHAIN_FN(20, chain19) CHAIN_FN(21, chain20)
CHAIN_FN(22, chain21) CHAIN_FN(23, chain22) CHAIN_FN(24, chain23)
CHAIN_FN(25, chain24) CHAIN_FN(26, chain25) CHAIN_FN(27, chain26)
CHAIN_FN(28, chain27) CHAIN_FN(29, chain28)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

START_TEST(test_bench)
{
	void *ips[64];
	const td_sym_frame *f;
	size_t n;

	ck_assert_int_ge(chain29(ips), 30);
	double t0 = now_us();
	struct td_symbolizer *s = td_symbolizer_new();
	double t1 = now_us();
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(td_symbolize(s, (uintptr_t)ips[i], true, &f,
					      &n), 0);
	double t2 = now_us();
	for (int i = 0; i < 100000; i++)
		td_symbolize(s, (uintptr_t)ips[i % 30], true, &f, &n);
	double t3 = now_us();
	/* ips[i] is the return address into chain<i>. */
	ck_assert_str_eq(f[n - 1].function, "chain9");
	ck_assert_int_eq(td_symbolize(s, (uintptr_t)ips[29], true, &f, &n), 0);
	ck_assert_str_eq(f[n - 1].function, "chain29");
	printf("symbolize bench: new %.0f us; 30 distinct IPs cold %.0f us "
	       "(%.1f us/IP); 100000 look-ups warm %.2f ms (%.1f ns each)\n",
	       t1 - t0, t2 - t1, (t2 - t1) / 30, (t3 - t2) / 1e3,
	       (t3 - t2) * 1e3 / 100000);
	td_symbolizer_free(s);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *symbolize_suite(void)
{
	Suite *s = suite_create("symbolize");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_noinline_function);
	tcase_add_test(tc, test_static_function);
	tcase_add_test(tc, test_inlined_frames);
	tcase_add_test(tc, test_nested_inlined_frames);
	tcase_add_test(tc, test_unw_backtrace);
	tcase_add_test(tc, test_not_return_address);
	tcase_add_test(tc, test_cache_same_pointer);
	tcase_add_test(tc, test_null_and_unmapped);
	tcase_add_test(tc, test_dlopen_after_new);
	tcase_add_test(tc, test_no_debuginfo_symtab);
	tcase_add_test(tc, test_stripped_library);
	tcase_add_test(tc, test_debuglink_library);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_vdso);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_bench);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(symbolize_suite());
}
