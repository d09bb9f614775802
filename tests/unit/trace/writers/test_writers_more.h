/* test_writers_more.h - the second half of test_writers.c (included by it,
 * one test executable): grouping, JSON validity, NULL fields, write
 * errors, helpers and the 100 000-task timing. */
#ifndef TD_TEST_WRITERS_MORE_H
#define TD_TEST_WRITERS_MORE_H

#include <fcntl.h>
#include <math.h>
#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TD_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TD_TEST_SANITIZED 1
#endif
#endif

/* ---- grouping -------------------------------------------------------- */

/* Tasks 1, 3, 4 have equal traces (separately allocated strings, other
 * addresses, other wait texts, same wait kind and object); task 2 differs;
 * tasks 5-8 each differ from task 1 in one compared detail only. */
START_TEST(test_grouping)
{
	static int obj, obj2;
	char *copies[8][2] = {{0}};
	td_dump_frame fr[8][2];
	td_dump_trace tr[8];
	td_dump_task tasks[8];
	int i;

	for (i = 0; i < 8; i++) {
		const char *fn = "same_poll", *file = "../s.c";

		if (i == 0 || i == 2 || i == 3) { /* equal content only */
			fn = copies[i][0] = strdup(fn);
			file = copies[i][1] = strdup(file);
		}
		fr[i][0] = (td_dump_frame){.function = fn, .file = file,
					   .line = 5,
					   .ip = 0x100u + (unsigned)i};
		fr[i][1] = (td_dump_frame){.function = "td_mutex_lock_poll",
					   .file = "m.c", .line = 9};
		tr[i] = (td_dump_trace){
			.wait = {.kind = TD_WAIT_MUTEX, .object = &obj,
				 .task_id = (uint64_t)i},
			.wait_text = i == 0 ? "first" : "other",
			.frames = fr[i], .nframes = 2};
		tasks[i] = (td_dump_task){.id = (uint64_t)i + 1,
					  .traced = true, .traces = &tr[i],
					  .ntraces = 1, .worker = -1,
					  .queue_worker = -1};
	}
	fr[1][1].line = 10;          /* task 2: another line */
	tr[4].wait.object = &obj2;   /* task 5: another object */
	tr[5].truncated = true;      /* task 6 */
	fr[6][1].inlined = true;     /* task 7 */
	tasks[7].traced = false;     /* task 8: never grouped */
	tasks[7].not_traced = "because";
	tr[7].wait_text = "first";

	td_dump_runtime rt = {.id = 1, .tasks = tasks, .ntasks = 8};
	td_dump d = {.runtimes = &rt, .nruntimes = 1, .ntasks = 8};
	int ntrees, nlines;
	char *g = out_text(&d, true), *u = out_text(&d, false);
	char *entry = strstr(g, "\ntask 1 ");

	ck_assert_ptr_nonnull(entry);
	ck_assert_str_eq(entry + 1,
		"task 1 state=idle polls=0 idle_ms=0 wakers=0\n"
		"task 3 state=idle polls=0 idle_ms=0 wakers=0\n"
		"task 4 state=idle polls=0 idle_ms=0 wakers=0\n"
		"\xe2\x95\xbc same_poll at s.c:5\n"
		"   \xe2\x94\x94\xe2\x95\xbc td_mutex_lock_poll at m.c:9 "
		"[waiting: first]\n"
		"\n"
		"task 2 state=idle polls=0 idle_ms=0 wakers=0\n"
		"\xe2\x95\xbc same_poll at s.c:5\n"
		"   \xe2\x94\x94\xe2\x95\xbc td_mutex_lock_poll at m.c:10 "
		"[waiting: other]\n"
		"\n"
		"task 5 state=idle polls=0 idle_ms=0 wakers=0\n"
		"\xe2\x95\xbc same_poll at s.c:5\n"
		"   \xe2\x94\x94\xe2\x95\xbc td_mutex_lock_poll at m.c:9 "
		"[waiting: other]\n"
		"\n"
		"task 6 state=idle polls=0 idle_ms=0 wakers=0\n"
		"\xe2\x95\xbc ... (truncated)\n"
		"   \xe2\x94\x94\xe2\x95\xbc same_poll at s.c:5\n"
		"      \xe2\x94\x94\xe2\x95\xbc td_mutex_lock_poll at m.c:9 "
		"[waiting: other]\n"
		"\n"
		"task 7 state=idle polls=0 idle_ms=0 wakers=0\n"
		"\xe2\x95\xbc same_poll at s.c:5\n"
		"   \xe2\x94\x94\xe2\x95\xbc td_mutex_lock_poll at m.c:9 "
		"[inlined] [waiting: other]\n"
		"\n"
		"task 8 state=idle polls=0 idle_ms=0 wakers=0\n"
		"not traced: because\n"
		"\n");
	free(read_back(g, &ntrees, &nlines));
	ck_assert_int_eq(ntrees, 5);
	ck_assert_int_eq(nlines, 8);
	free(read_back(u, &ntrees, &nlines));
	ck_assert_int_eq(ntrees, 7);
	free(g);
	free(u);
	for (i = 0; i < 8; i++)
		free(copies[i][0]), free(copies[i][1]);
}
END_TEST

/* ---- JSON validity --------------------------------------------------- */

/* Checks with python3: strict UTF-8, valid JSON, "taskdump" first, every
 * key of README.md (dump file formats) present in every object; prints the task names and the
 * wait kinds as ASCII JSON for the caller to compare. */
static const char json_check_py[] =
	"import json, sys\n"
	"raw = open(sys.argv[1], 'rb').read()\n"
	"s = raw.decode('utf-8')\n"
	"firsts = []\n"
	"def hook(pairs):\n"
	"    firsts.append(pairs[0][0] if pairs else None)\n"
	"    return dict(pairs)\n"
	"d = json.loads(s, object_pairs_hook=hook)\n"
	"assert firsts[-1] == 'taskdump', firsts[-1]\n"
	"def need(o, keys):\n"
	"    missing = [k for k in keys if k not in o]\n"
	"    assert not missing, (missing, o)\n"
	"need(d, 'taskdump pid program time pause_ms capture_ms symbolize_ms "
	"total_ms runtimes'.split())\n"
	"FR = 'function file line inlined module offset ip'.split()\n"
	"names, kinds = [], []\n"
	"for r in d['runtimes']:\n"
	"    need(r, 'id name flavor tasks_total traced pause_ms error workers "
	"tasks'.split())\n"
	"    for w in r['workers']:\n"
	"        need(w, 'index state tid queued task busy_ms native_stack "
	"native_stack_error'.split())\n"
	"        for f in w['native_stack'] or []: need(f, FR)\n"
	"    for t in r['tasks']:\n"
	"        need(t, 'id name block_on state queue queue_worker polls "
	"idle_ms worker spawned traced not_traced traces'.split())\n"
	"        names.append(t['name'])\n"
	"        for tr in t['traces']:\n"
	"            need(tr, ['wait', 'truncated', 'frames'])\n"
	"            need(tr['wait'], 'kind text object deadline_ms task_id fd "
	"events count value label'.split())\n"
	"            kinds.append(tr['wait']['kind'])\n"
	"            for f in tr['frames']: need(f, FR)\n"
	"print(json.dumps([names, kinds]))\n";

/* Run the check on `json`; returns its output (malloc'ed). */
static char *python_check(const char *json)
{
	char dir[] = "/tmp/td_writers_XXXXXX", jp[64], pp[64], cmd[256];
	char chunk[65536];
	struct tc_str out = {0};
	size_t n;
	FILE *p;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(jp, sizeof(jp), "%s/d.json", dir);
	snprintf(pp, sizeof(pp), "%s/check.py", dir);
	save(dir, "d.json", json);
	save(dir, "check.py", json_check_py);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", pp, jp);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	tc_cat(&out, "");
	while ((n = fread(chunk, 1, sizeof(chunk) - 1, p)) > 0) {
		chunk[n] = 0;
		tc_cat(&out, chunk);
	}
	int st = pclose(p);
	unlink(jp);
	unlink(pp);
	rmdir(dir);
	ck_assert_msg(st == 0, "python3 rejected the JSON (status %d)", st);
	return out.s;
}

START_TEST(test_json_valid_sample)
{
	char *j = out_json(&s_sample);
	char *r = python_check(j);

	ck_assert_str_eq(r,
		"[[\"main\", \"tick\\\"er\\\\\\n\\t\\u0001\\u00e9\\ufffd end\", "
		"\"fanout\", null, null, null, null, \"stuck\", null, null, "
		"\"deep\", null, \"\\ufffd(\\ufffd bad utf8\", \"client\", "
		"\"server\", \"client\"], [\"sleep\", \"sleep\", \"sleep\", "
		"\"oneshot\", \"mutex\", \"yield\", \"yield\", \"yield\", "
		"\"yield\", \"notify\", \"chan_recv\", \"io\", \"other\", "
		"\"sleep\", \"semaphore\", \"sleep\"]]\n");
	free(r);
	free(j);
}
END_TEST

START_TEST(test_json_valid_random)
{
	int round;

	rng_state = 7;
	for (round = 0; round < 20; round++) {
		size_t n = 1 + rnd(20), nowned;
		char **owned;
		td_dump_trace *tr = random_traces(n, &owned, &nowned);
		td_dump_task task = {.id = 1, .traced = true, .traces = tr,
				     .ntraces = n, .worker = -1};
		td_dump_runtime rt = {.id = 1, .tasks = &task, .ntasks = 1};
		td_dump d = {.runtimes = &rt, .nruntimes = 1, .ntasks = 1};
		char *j = out_json(&d);

		free(python_check(j));
		free(j);
		free_traces(tr, n, owned, nowned);
	}
}
END_TEST

/* ---- NULL and empty fields ------------------------------------------- */

START_TEST(test_null_fields)
{
	td_dump_frame fr = {.function = NULL, .ip = 0xabc};
	td_dump_trace tr[2] = {
		{.wait = {.kind = TD_WAIT_NONE}, .frames = &fr, .nframes = 1},
		{.wait = {.kind = (td_wait_kind)99}, .frames = NULL,
		 .nframes = 3 /* with frames NULL */, .truncated = true},
	};
	td_dump_worker w[2] = {
		{.state = NULL},
		{.state = "busy", .stack = NULL, .nstack = 5},
	};
	td_dump_task t = {.state = (td_dump_task_state)77,
			  .queue = (td_dump_queue)55, .traced = true,
			  .traces = tr, .ntraces = 2, .worker = -1};
	td_dump_runtime rts[3] = {
		{.workers = w, .nworkers = 2, .tasks = &t, .ntasks = 1},
		{.workers = NULL, .nworkers = 4, .tasks = NULL, .ntasks = 9,
		 .error = "e"},
		{0},
	};
	td_dump empty = {0}, nulls = {.runtimes = rts, .nruntimes = 3,
				      .pause_ms = NAN, .total_ms = INFINITY};
	char *s;

	s = out_text(&empty, false);
	ck_assert_str_eq(s, "taskdump 1\npid 0\nprogram ?\n"
			    "time 1970-01-01T00:00:00.000Z\npause_ms 0.000\n"
			    "capture_ms 0.000\nsymbolize_ms 0.000\n"
			    "total_ms 0.000\nruntimes 0\ntasks 0\n\n");
	free(s);
	s = out_json(&empty);
	ck_assert_str_eq(s, "{\"taskdump\":1,\"pid\":0,\"program\":null,"
			    "\"time\":\"1970-01-01T00:00:00.000Z\","
			    "\"mode\":null,\"pause_ms\":0.000,"
			    "\"span_ms\":0.000,\"capture_ms\":0.000,"
			    "\"symbolize_ms\":0.000,\"total_ms\":0.000,"
			    "\"tasks_total\":0,\"unconfirmed_deadlocks\":0,"
			    "\"unconfirmed_lost_wakeups\":0,"
			    "\"note\":null,\"warnings\":[],\n"
			    "\"deadlocks\":[],\"task_warnings_found\":0,"
			    "\"task_warnings\":[],\n"
			    "\"runtimes\":[]}\n");
	free(python_check(s));
	free(s);

	s = out_text(&nulls, false);
	ck_assert_ptr_nonnull(strstr(s, "\npause_ms 0.000\n"));
	ck_assert_ptr_nonnull(strstr(s,
		"runtime 0 workers=2 tasks=1 traced=0 pause_ms=0.000\n"
		"worker 0 state=unknown queued=0\n"
		"worker 0 state=busy task=0 busy_ms=0 queued=0\n"
		"  native stack of worker 0 unavailable: unknown\n\n"
		"task 0 state=unknown queue=unknown polls=0 idle_ms=0\n"
		"\xe2\x95\xbc 0xabc [waiting: none]\n"
		"\xe2\x95\xbc ... (truncated) [waiting: none]\n\n"
		"runtime 0 workers=0 tasks=0 traced=0 pause_ms=0.000 "
		"error=\"e\"\n\n"
		"runtime 0 workers=0 tasks=0 traced=0 pause_ms=0.000\n\n"));
	free(s);
	s = out_json(&nulls);
	ck_assert_ptr_nonnull(strstr(s, "\"pause_ms\":null,"));
	ck_assert_ptr_nonnull(strstr(s, "\"total_ms\":null,"));
	free(python_check(s));
	free(s);
	s = out_text(&nulls, true);
	free(s);
}
END_TEST

/* ---- errors ---------------------------------------------------------- */

static td_dump *big_dump(size_t ntasks);
static void big_dump_free(td_dump *d);

START_TEST(test_write_errors)
{
	td_write_options grp = {.group = true};
	FILE *f = fopen("/dev/full", "w");
	td_dump *big = big_dump(20000);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_text(&s_sample, f, NULL), -ENOSPC);
	clearerr(f);
	ck_assert_int_eq(td_dump_write_json(&s_sample, f), -ENOSPC);
	clearerr(f);
	ck_assert_int_eq(td_dump_write_text(big, f, &grp), -ENOSPC);
	clearerr(f);
	ck_assert_int_eq(td_dump_write_json(big, f), -ENOSPC);
	fclose(f);

	/* A stream opened for reading: write(2) fails with EBADF. */
	f = fopen("/dev/null", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_text(&s_sample, f, NULL), -EBADF);
	fclose(f);

	ck_assert_int_eq(td_dump_write_text(NULL, stdout, NULL), -EINVAL);
	ck_assert_int_eq(td_dump_write_text(&s_sample, NULL, NULL), -EINVAL);
	ck_assert_int_eq(td_dump_write_json(NULL, stdout), -EINVAL);
	ck_assert_int_eq(td_dump_write_json(&s_sample, NULL), -EINVAL);
	big_dump_free(big);
}
END_TEST

/* Allocation failure: with the address space capped just above what the
 * process uses, the writers' buffers cannot be allocated.  Needs a fresh
 * forked test process (Check's default; with CK_FORK=no earlier tests
 * leave free heap that malloc reuses), and no sanitizer (their shadow
 * memory needs a huge address space). */
START_TEST(test_enomem)
{
	const char *fork_mode = getenv("CK_FORK");

	if (fork_mode && strcmp(fork_mode, "no") == 0) {
		printf("writers: test_enomem skipped with CK_FORK=no\n");
		return;
	}
#ifdef TD_TEST_SANITIZED
	printf("writers: test_enomem skipped under a sanitizer\n");
#else
	FILE *f = fopen("/dev/null", "w"), *statm = fopen("/proc/self/statm",
							  "r");
	struct rlimit old, cap;
	unsigned long pages = 0;
	int rt, rj;

	ck_assert(f && statm);
	ck_assert_int_eq(fscanf(statm, "%lu", &pages), 1);
	fclose(statm);
	ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
	cap = old;
	cap.rlim_cur = pages * (rlim_t)sysconf(_SC_PAGESIZE) + 64 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &cap), 0);
	rt = td_dump_write_text(&s_sample, f, NULL);
	rj = td_dump_write_json(&s_sample, f);
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
	ck_assert_int_eq(rt, -ENOMEM);
	ck_assert_int_eq(rj, -ENOMEM);
	fclose(f);
#endif
}
END_TEST

/* ---- helpers --------------------------------------------------------- */

/* Run fn on a wbuf backed by a memory stream; return the output. */
#define WBUF_OUT(call)                                                      \
	({                                                                   \
		char *buf_ = NULL;                                           \
		size_t len_ = 0;                                             \
		FILE *f_ = open_memstream(&buf_, &len_);                     \
		struct td_wbuf wb_, *b = &wb_;                               \
		ck_assert_int_eq(td_wbuf_init(b, f_), 0);                    \
		call;                                                        \
		ck_assert_int_eq(td_wbuf_finish(b), 0);                      \
		fclose(f_);                                                  \
		buf_;                                                        \
	})

#define ASSERT_OUT(call, want)                                              \
	do {                                                                 \
		char *s_ = WBUF_OUT(call);                                   \
		ck_assert_str_eq(s_, want);                                  \
		free(s_);                                                    \
	} while (0)

START_TEST(test_helpers)
{
	const char *tricky = "a\"b\\c d]e\n\t\x01\x7f\xc3\xa9\xff\xe2\x82";

	ck_assert_str_eq(td_dump_file_name("../../work/main/examples/demo.c"),
			 "work/main/examples/demo.c");
	ck_assert_str_eq(td_dump_file_name("/tmp/build/../tests/x.c"),
			 "/tmp/build/../tests/x.c");
	ck_assert_str_eq(td_dump_file_name("./a/../b.c"), "a/../b.c");
	ck_assert_str_eq(td_dump_file_name(".//.././x.c"), "x.c");
	ck_assert_str_eq(td_dump_file_name("../"), "../");
	ck_assert_str_eq(td_dump_file_name("..x/y.c"), "..x/y.c");
	ck_assert_str_eq(td_dump_file_name(".hidden.c"), ".hidden.c");
	ck_assert_str_eq(td_dump_file_name(""), "");

	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xc3\xa9"), 2);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xe2\x82\xac"), 3);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80"), 4);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xc0\xaf"), 0);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xe0\x80\xaf"), 0);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xed\xa0\x80"), 0);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xf4\x90\x80\x80"), 0);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\xe2\x82"), 0);
	ck_assert_uint_eq(td_utf8_seq_len((const unsigned char *)"\x80"), 0);

	ASSERT_OUT(td_wbuf_text(b, tricky, TD_ESC_QUOTED),
		   "a\\\"b\\\\c d]e\\n\\t\\x01\\x7f\xc3\xa9\\xff\\xe2\\x82");
	ASSERT_OUT(td_wbuf_text(b, tricky, TD_ESC_TOKEN),
		   "a\\\"b\\\\c\\x20d]e\\n\\t\\x01\\x7f\xc3\xa9\\xff\\xe2\\x82");
	ASSERT_OUT(td_wbuf_text(b, tricky, TD_ESC_FREE),
		   "a\"b\\c d]e\\n\\t\\x01\\x7f\xc3\xa9\\xff\\xe2\\x82");
	ASSERT_OUT(td_wbuf_text(b, tricky, TD_ESC_WAIT),
		   "a\"b\\c d)e\\n\\t\\x01\\x7f\xc3\xa9\\xff\\xe2\\x82");
	ASSERT_OUT(td_wbuf_json_str(b, tricky),
		   "\"a\\\"b\\\\c d]e\\n\\t\\u0001\\u007f\xc3\xa9\\ufffd"
		   "\\ufffd\\ufffd\"");
	ASSERT_OUT(td_wbuf_json_str(b, "\b\f\r\x1f"),
		   "\"\\b\\f\\r\\u001f\"");
	ASSERT_OUT(td_wbuf_json_str(b, NULL), "null");

	ASSERT_OUT(td_wbuf_ms3(b, 2.1034), "2.103");
	ASSERT_OUT(td_wbuf_ms3(b, 0.0004), "0.000");
	ASSERT_OUT(td_wbuf_ms3(b, -0.0004), "0.000");
	ASSERT_OUT(td_wbuf_ms3(b, -1.5), "-1.500");
	ASSERT_OUT(td_wbuf_ms3(b, 12345.6789), "12345.679");
	ASSERT_OUT(td_wbuf_ms3(b, 0.0125), "0.013");
	ASSERT_OUT(ck_assert(!td_wbuf_ms3(b, NAN)), "");
	ASSERT_OUT(ck_assert(!td_wbuf_ms3(b, 1e16)), "");
	ASSERT_OUT(td_wbuf_time(b, 0), "1970-01-01T00:00:00.000Z");
	ASSERT_OUT(td_wbuf_time(b, -1), "1969-12-31T23:59:59.999Z");
	ASSERT_OUT(td_wbuf_time(b, 1795792831123), "2026-11-27T15:20:31.123Z");
	ASSERT_OUT(td_wbuf_hex(b, 0), "0x0");
	ASSERT_OUT(td_wbuf_hex(b, UINT64_MAX), "0xffffffffffffffff");
	ASSERT_OUT(td_wbuf_i64(b, INT64_MIN), "-9223372036854775808");
	ASSERT_OUT(td_wbuf_u64(b, UINT64_MAX), "18446744073709551615");

	ck_assert_str_eq(td_dump_task_state_name(TD_DUMP_IDLE), "idle");
	ck_assert_str_eq(td_dump_task_state_name(TD_DUMP_NOTIFIED), "notified");
	ck_assert_str_eq(td_dump_task_state_name(TD_DUMP_RUNNING), "running");
	ck_assert_str_eq(td_dump_task_state_name(TD_DUMP_CANCELLED),
			 "cancelled");
	ck_assert_str_eq(td_dump_task_state_name(TD_DUMP_COMPLETE), "complete");
	ck_assert_str_eq(td_dump_task_state_name((td_dump_task_state)9),
			 "unknown");
	ck_assert_str_eq(td_dump_queue_name(TD_DUMP_QUEUE_NONE), "none");
	ck_assert_str_eq(td_dump_queue_name(TD_DUMP_QUEUE_LIFO), "lifo");
	ck_assert_str_eq(td_dump_queue_name(TD_DUMP_QUEUE_LOCAL), "local");
	ck_assert_str_eq(td_dump_queue_name(TD_DUMP_QUEUE_INJECT), "inject");
	ck_assert_str_eq(td_dump_queue_name(TD_DUMP_QUEUE_UNKNOWN), "unknown");
	ck_assert_str_eq(td_dump_queue_name((td_dump_queue)9), "unknown");
}
END_TEST

/* A big buffer crossing: output much larger than the writer's buffer,
 * strings longer than it, all intact. */
START_TEST(test_long_strings)
{
	size_t n = 700 * 1024;
	char *name = malloc(n + 1);
	td_dump_task t = {.id = 5, .name = name, .worker = -1,
			  .traced = false, .not_traced = name};
	td_dump_runtime rt = {.id = 1, .tasks = &t, .ntasks = 1};
	td_dump d = {.runtimes = &rt, .nruntimes = 1, .ntasks = 1};

	ck_assert(name);
	for (size_t i = 0; i < n; i++)
		name[i] = (char)('a' + i % 26);
	name[n - 1] = '"';
	name[n] = 0;
	char *s = out_text(&d, false);
	char *p = strstr(s, "task 5 name=\"");
	ck_assert_ptr_nonnull(p);
	ck_assert(memcmp(p + 13, name, n - 1) == 0);
	ck_assert(memcmp(p + 13 + n - 1, "\\\"\"", 3) == 0);
	free(s);
	s = out_json(&d);
	free(python_check(s));
	free(s);
	free(name);
}
END_TEST

#include "bench.h"

static void add_more_tests(TCase *tc)
{
	tcase_add_test(tc, test_grouping);
	tcase_add_test(tc, test_json_valid_sample);
	tcase_add_test(tc, test_json_valid_random);
	tcase_add_test(tc, test_null_fields);
	tcase_add_test(tc, test_write_errors);
	tcase_add_test(tc, test_enomem);
	tcase_add_test(tc, test_helpers);
	tcase_add_test(tc, test_long_strings);
	tcase_add_test(tc, test_bench_100k);
}

#endif /* TD_TEST_WRITERS_MORE_H */
