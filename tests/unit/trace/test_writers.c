/* test_writers.c - the text and JSON writers of task dumps.
 *
 * - golden outputs of a hand-built dump (writers/sample.h) in both formats,
 *   grouped and not, compared byte for byte (writers/golden.h);
 * - the tree shape rules, checked by reading the text back
 *   (writers/tree_check.h), on the sample and on random traces, where the
 *   output must also equal a naive reference printer's;
 * - grouping; JSON validity (python3's json module, strict UTF-8);
 *   NULL fields; write errors (/dev/full: -ENOSPC); helpers;
 * - the time to write 100 000 tasks (printed, not asserted).
 *
 * TD_WRITERS_GOLDEN_DIR=<dir> makes test_golden_* write the actual outputs
 * to <dir> (to review them and regenerate writers/golden.h with
 * writers/make_golden.py).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/dump.h"
#include "test_util.h"
#include "trace/write_buf.h"
#include "writers/golden.h"
#include "writers/sample.h"
#include "writers/tree_check.h"

/* ---- capturing output ------------------------------------------------ */

static char *out_text(const td_dump *d, bool group)
{
	td_write_options o = {.group = group};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert(f);
	ck_assert_int_eq(td_dump_write_text(d, f, &o), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(strlen(buf), len); /* no NUL byte written */
	return buf;
}

static char *out_json(const td_dump *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert(f);
	ck_assert_int_eq(td_dump_write_json(d, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(strlen(buf), len);
	return buf;
}

static void save(const char *dir, const char *name, const char *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f, "cannot write %s", path);
	fputs(s, f);
	fclose(f);
}

/* Byte-for-byte comparison that reports the first differing line. */
static void assert_same(const char *name, const char *got, const char *want)
{
	const char *g = got, *w = want;
	int line = 1;

	if (getenv("TD_WRITERS_GOLDEN_DIR"))
		save(getenv("TD_WRITERS_GOLDEN_DIR"), name, got);
	while (*g && *g == *w) {
		if (*g == '\n')
			line++;
		g++;
		w++;
	}
	if (*g == *w)
		return;
	save("/tmp", name, got);
	const char *gl = g, *wl = w;
	while (gl > got && gl[-1] != '\n')
		gl--, wl--;
	ck_abort_msg("%s differs at line %d (actual output in /tmp/%s):\n"
		     "got:  %.*s\nwant: %.*s", name, line, name,
		     (int)strcspn(gl, "\n"), gl, (int)strcspn(wl, "\n"), wl);
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n = td_utf8_seq_len(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

/* ---- golden outputs -------------------------------------------------- */

START_TEST(test_golden_text)
{
	char *t = out_text(&s_sample, false);

	assert_same("sample.txt", t, golden_text);
	ck_assert(valid_utf8(t));
	free(t);
}
END_TEST

START_TEST(test_golden_text_grouped)
{
	char *t = out_text(&s_sample, true);

	assert_same("sample_grouped.txt", t, golden_text_grouped);
	ck_assert(valid_utf8(t));
	free(t);
}
END_TEST

START_TEST(test_golden_json)
{
	char *t = out_json(&s_sample);

	assert_same("sample.json", t, golden_json);
	ck_assert(valid_utf8(t));
	free(t);
}
END_TEST

/* ---- reading text back ----------------------------------------------- */

/* Split s in place into lines (without their '\n'). */
static char **split_lines(char *s, int *n)
{
	int cap = 1024, k = 0;
	char **v = malloc(sizeof(*v) * (size_t)cap);

	TC_CHECK(v, "v");
	TC_CHECK(*s == 0 || s[strlen(s) - 1] == '\n', "no final newline");
	while (*s) {
		char *nl = strchr(s, '\n');

		if (k == cap) {
			cap *= 2;
			v = realloc(v, sizeof(*v) * (size_t)cap);
			TC_CHECK(v, "v");
		}
		*nl = 0;
		v[k++] = s;
		s = nl + 1;
	}
	*n = k;
	return v;
}

/* Walk a text dump (splitting it into lines in place): check its overall
 * structure, every tree's shape, and
 * return the paths of all trees concatenated (each entry's paths prefixed
 * by "<first task id>:"), for comparisons.  *ntrees counts trees. */
static char *read_back(char *text, int *ntrees, int *ntask_lines)
{
	int n, i = 0, k;
	char **L = split_lines(text, &n);
	struct tc_str all = {0};

	tc_cat(&all, "");
	*ntrees = *ntask_lines = 0;
	TC_CHECK(n > 0 && strcmp(L[0], "taskdump 1") == 0, "header");
	while (i < n && L[i][0]) /* header */
		i++;
	TC_CHECK(i < n, "no blank line after the header");
	i++;
	while (i < n) {
		TC_CHECK(strncmp(L[i], "runtime ", 8) == 0, "line %d: %s",
			      i, L[i]);
		while (i < n && L[i][0]) /* runtime, workers, stacks */
			i++;
		i++;
		while (i < n && strncmp(L[i], "task ", 5) == 0) {
			char id[32];

			snprintf(id, sizeof(id), "%.*s:",
				 (int)strcspn(L[i] + 5, " "), L[i] + 5);
			while (i < n && strncmp(L[i], "task ", 5) == 0) {
				i++;
				(*ntask_lines)++;
			}
			k = i;
			while (k < n && L[k][0])
				k++;
			TC_CHECK(k < n, "entry without its blank line");
			if (k > i && strncmp(L[i], "not traced: ", 12) == 0) {
				TC_CHECK(k == i + 1, "lines after not traced");
			} else if (k > i) {
				char *p = tc_check_tree(L + i, k - i);

				tc_cat(&all, id);
				tc_cat(&all, "\n");
				tc_cat(&all, p);
				free(p);
				(*ntrees)++;
			}
			i = k + 1;
		}
	}
	free(L);
	return all.s;
}

START_TEST(test_tree_shape_sample)
{
	int ntrees, nlines, ntrees_g, nlines_g;
	char *t = out_text(&s_sample, false);
	char *g = out_text(&s_sample, true);
	char *p = read_back(t, &ntrees, &nlines);
	char *pg = read_back(g, &ntrees_g, &nlines_g);

	ck_assert_int_eq(nlines, 16);
	ck_assert_int_eq(nlines_g, 16);
	ck_assert_int_eq(ntrees, 13); /* 16 - 2 not traced - 1 empty */
	ck_assert_int_eq(ntrees_g, 9); /* tasks 3-6 and 13, 15 grouped */
	/* The join_all task: three leaves under one prefix, in order. */
	ck_assert_ptr_nonnull(strstr(p,
		"2:\nfanout_poll at examples/demo/fanout.c:70 > "
		"td_join_all_poll at runtime/src/combinators/join_all.c:96 > "
		"child_poll at examples/demo/fanout.c:31 > td_sleep_poll at "
		"runtime/src/time/sleep.c:27 [sleep, 120 ms left]\n"
		"fanout_poll at examples/demo/fanout.c:70 > "
		"td_join_all_poll at runtime/src/combinators/join_all.c:96 > "
		"child_poll at examples/demo/fanout.c:35 > td_oneshot_recv_poll"
		" at runtime/src/sync/oneshot.c:140 [oneshot recv]\n"));
	ck_assert_ptr_nonnull(strstr(p, "10:\n... (truncated) > deep_a_poll"));
	free(t);
	free(g);
	free(p);
	free(pg);
}
END_TEST

/* ---- random traces against the reference printer --------------------- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rng_state >> 33) % n;
}

static const char *const fn_pool[] = {"alpha_poll", "beta_poll",
				      "td_join_all_poll", "gamma_poll"};
static const char *const file_raw[] = {"../src/a.c", "./b.c",
				       "/x/../c.c"};
static const char *const file_shown[] = {"src/a.c", "b.c", "/x/../c.c"};
static const char *const wait_pool[] = {"sleep, 5 ms left", "mutex ]x[",
					"yield"};

static void ref_label(const td_dump_frame *f, char *buf, size_t size)
{
	const char *shown = f->file;
	size_t i;

	for (i = 0; i < 3; i++)
		if (strcmp(f->file, file_raw[i]) == 0)
			shown = file_shown[i];
	snprintf(buf, size, "%s at %s:%d%s", f->function, shown, f->line,
		 f->inlined ? " [inlined]" : "");
}

/* n random traces sharing prefixes often; strings are sometimes copies
 * (equal content, other pointers) to check content comparison. */
static td_dump_trace *random_traces(size_t n, char ***owned, size_t *nowned)
{
	td_dump_trace *tr = calloc(n, sizeof(*tr));
	size_t i, j;

	ck_assert(tr);
	*owned = calloc(n * 8 * 2 + 1, sizeof(char *));
	*nowned = 0;
	for (i = 0; i < n; i++) {
		size_t nf = rnd(7); /* 0..6 */

		tr[i].frames = nf ? calloc(nf, sizeof(td_dump_frame)) : NULL;
		tr[i].nframes = nf;
		tr[i].truncated = rnd(8) == 0;
		tr[i].wait_text = (char *)wait_pool[rnd(3)];
		tr[i].wait.kind = TD_WAIT_OTHER;
		for (j = 0; j < nf; j++) {
			td_dump_frame *f = &tr[i].frames[j];
			unsigned k = rnd(2) + (j > 1 ? 2 : 0);

			f->function = fn_pool[k];
			f->file = file_raw[(k + j) % 3];
			f->line = (int)(10 * j + rnd(2));
			f->inlined = rnd(10) == 0;
			f->ip = 0x1000 + rnd(1000);
			if (rnd(4) == 0) {
				char *c = strdup(f->file);
				(*owned)[(*nowned)++] = c;
				f->file = c;
			}
		}
	}
	return tr;
}

static void free_traces(td_dump_trace *tr, size_t n, char **owned,
			size_t nowned)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(tr[i].frames);
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	free(tr);
}

START_TEST(test_tree_random_vs_reference)
{
	int round;

	rng_state = 42;
	for (round = 0; round < 400; round++) {
		size_t n = 1 + rnd(round < 300 ? 12 : 40), nowned;
		char **owned;
		td_dump_trace *tr = random_traces(n, &owned, &nowned);
		td_dump_task task = {.id = 1, .traced = true, .traces = tr,
				     .ntraces = n, .worker = -1};
		td_dump_runtime rt = {.id = 1, .tasks = &task, .ntasks = 1};
		td_dump d = {.runtimes = &rt, .nruntimes = 1, .ntasks = 1};
		char *text = out_text(&d, false), *ref = NULL, *tree;
		size_t rlen;
		FILE *rf = open_memstream(&ref, &rlen);
		int ntrees, nlines;

		tc_ref_tree(tr, n, rf, ref_label);
		fclose(rf);
		tree = strstr(text, "\ntask 1 ");
		ck_assert_ptr_nonnull(tree);
		tree = strchr(tree + 1, '\n') + 1;
		ck_assert_msg(strncmp(tree, ref, rlen) == 0 &&
				      strcmp(tree + rlen, "\n") == 0,
			      "round %d: tree differs from the reference:\n%s\n"
			      "reference:\n%s", round, tree, ref);
		free(read_back(text, &ntrees, &nlines));
		ck_assert_int_eq(ntrees, 1);
		free(ref);
		free(text);
		free_traces(tr, n, owned, nowned);
	}
}
END_TEST

/* A very deep chain and a deep two-branch tree: no recursion limit, the
 * prefix buffer grows, the shape stays right. */
START_TEST(test_tree_deep)
{
	size_t depth = 1500, i;
	td_dump_frame *fr = calloc(depth, sizeof(*fr));
	td_dump_frame *fr2 = calloc(depth, sizeof(*fr2));
	td_dump_trace tr[2] = {
		{.frames = fr, .nframes = depth, .wait_text = "a"},
		{.frames = fr2, .nframes = depth, .wait_text = "b"},
	};
	td_dump_task task = {.id = 1, .traced = true, .traces = tr,
			     .ntraces = 1, .worker = -1};
	td_dump_runtime rt = {.id = 1, .tasks = &task, .ntasks = 1};
	td_dump d = {.runtimes = &rt, .nruntimes = 1, .ntasks = 1};
	int ntrees, nlines;
	char *t, *p;

	ck_assert(fr && fr2);
	for (i = 0; i < depth; i++) {
		fr[i] = (td_dump_frame){.function = "f", .file = "d.c",
					.line = (int)i + 1};
		fr2[i] = fr[i];
	}
	fr2[depth - 10].line = -5; /* branch 10 frames above the leaf */
	t = out_text(&d, false);
	p = read_back(t, &ntrees, &nlines);
	ck_assert_int_eq(ntrees, 1);
	ck_assert_ptr_nonnull(strstr(p, "f at d.c:1500 [a]\n"));
	free(t);
	free(p);
	task.ntraces = 2;
	t = out_text(&d, false);
	p = read_back(t, &ntrees, &nlines);
	ck_assert_ptr_nonnull(strstr(p, "f at d.c:1500 [a]\n"));
	ck_assert_ptr_nonnull(strstr(p, "f at d.c:0 > f at d.c:1492"));
	free(t);
	free(p);
	free(fr);
	free(fr2);
}
END_TEST

/* join_all over 10 000 children, each waiting on its own thing: one leaf
 * line per child, written in linear time (indexed child look-up). */
START_TEST(test_tree_wide)
{
	size_t n = 10000, i;
	td_dump_frame fr[3] = {
		{.function = "fan_poll", .file = "f.c", .line = 1},
		{.function = "td_join_all_poll", .file = "j.c", .line = 2},
		{.function = "child_poll", .file = "c.c", .line = 3},
	};
	td_dump_trace *tr = calloc(n, sizeof(*tr));
	char *texts = malloc(n * 16);
	td_dump_task task = {.id = 1, .traced = true, .traces = tr,
			     .ntraces = n, .worker = -1};
	td_dump_runtime rt = {.id = 1, .tasks = &task, .ntasks = 1};
	td_dump d = {.runtimes = &rt, .nruntimes = 1, .ntasks = 1};
	int ntrees, nlines;

	ck_assert(tr && texts);
	for (i = 0; i < n; i++) {
		snprintf(texts + 16 * i, 16, "child %zu", i);
		tr[i] = (td_dump_trace){.frames = fr, .nframes = 3,
					.wait_text = texts + 16 * i};
	}
	uint64_t t0 = test_now_ms();
	char *t = out_text(&d, false);
	uint64_t t1 = test_now_ms();
	size_t leaves = 0;

	ck_assert_ptr_nonnull(strstr(t, "[waiting: child 9999]\n\n"));
	char *p = read_back(t, &ntrees, &nlines); /* splits t */
	for (char *q = p; (q = strstr(q, "child_poll at c.c:3 [")); q++)
		leaves++;
	ck_assert_uint_eq(leaves, n);
	printf("writers: join_all of %zu children written in %llu ms\n", n,
	       (unsigned long long)(t1 - t0));
	free(t);
	free(p);
	free(tr);
	free(texts);
}
END_TEST

#include "writers/test_writers_more.h"

int main(void)
{
	Suite *s = suite_create("writers");
	TCase *tc = tcase_create("writers");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_golden_text);
	tcase_add_test(tc, test_golden_text_grouped);
	tcase_add_test(tc, test_golden_json);
	tcase_add_test(tc, test_tree_shape_sample);
	tcase_add_test(tc, test_tree_random_vs_reference);
	tcase_add_test(tc, test_tree_deep);
	tcase_add_test(tc, test_tree_wide);
	add_more_tests(tc);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
