/* test_dump_format.c - the text and JSON writers on real dumps.
 *
 * A runtime with a known set of tasks (a join_all fan-out, for a tree
 * that branches; identical sleepers, for grouping; a name that needs
 * escaping) is dumped and written out:
 *   text: the version line first, the header keys in their order, the
 *         runtime and worker lines, a "task <id>" line for every task, the
 *         tree markers (root, middle and last child, the "│" prefix) and
 *         wait annotations, the blank-line structure; grouping merges the
 *         sleepers' identical trees;
 *   JSON: valid JSON for python3 (`python3 -m json.tool`, and a script
 *         that checks the first key is "taskdump" and reads back the
 *         runtimes, tasks and traces, compared with the td_dump).
 * python3 missing: the JSON part says so and is skipped.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/combinators.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define HOUR_MS (3600u * 1000u)
#define NSLEEPERS 3

static atomic_int line_fan;

typedef struct leg {
	td_future base;
	td_async as;
	td_sleep nap;
	int idx;
} leg;

static void leg_drop(td_future *f)
{
	td_async_drop(&((leg *)f)->as);
}

/* Three legs, three functions: the tree branches at them (equal frames
 * are merged; and identical awaits in one function may be merged by the
 * compiler into one call site, with one line). */
#define LEG(name)                                                            \
	static td_poll name##_poll(td_future *f, td_context *cx)             \
	{                                                                    \
		leg *l = (leg *)f;                                           \
		TD_BEGIN(&l->as);                                            \
		td_sleep_init(&l->nap, HOUR_MS + 1000u * (unsigned)l->idx);  \
		TD_AWAIT(&l->as, &l->nap, cx);                               \
		TD_END(&l->as);                                              \
	}                                                                    \
	static const td_future_vtable name##_vt = {.poll = name##_poll,      \
						   .drop = leg_drop}

LEG(leg_a);
LEG(leg_b);
LEG(leg_c);

static const td_future_vtable *const leg_vts[3] = {&leg_a_vt, &leg_b_vt,
						   &leg_c_vt};

typedef struct fan {
	td_future base;
	td_async as;
	leg legs[3];
	td_future *kids[3];
	td_join_all all;
} fan;

static td_poll fan_poll(td_future *f, td_context *cx)
{
	fan *p = (fan *)f;
	TD_BEGIN(&p->as);
	for (int i = 0; i < 3; i++) {
		p->legs[i] = (leg){.base = {leg_vts[i]}, .idx = i};
		p->kids[i] = &p->legs[i].base;
	}
	td_join_all_init(&p->all, p->kids, 3);
	FX_AWAIT_AT(line_fan, &p->as, &p->all, cx);
	TD_END(&p->as);
}

static void fan_drop(td_future *f)
{
	td_async_drop(&((fan *)f)->as);
}

static const td_future_vtable fan_vt = {.poll = fan_poll, .drop = fan_drop};

typedef struct sleeper {
	td_future base;
	td_async as;
	td_notified go;
	td_notify *n;
} sleeper;

static td_poll sleeper_poll(td_future *f, td_context *cx)
{
	sleeper *s = (sleeper *)f;
	TD_BEGIN(&s->as);
	td_notified_init(&s->go, s->n);
	TD_AWAIT(&s->as, &s->go, cx);
	TD_END(&s->as);
}

static void sleeper_drop(td_future *f)
{
	td_async_drop(&((sleeper *)f)->as);
}

static const td_future_vtable sleeper_vt = {.poll = sleeper_poll,
					    .drop = sleeper_drop};

/* ---- helpers ------------------------------------------------------------ */

struct ids {
	uint64_t v[1 + NSLEEPERS];
};

static bool parked(const td_dump *d, void *arg)
{
	return fx_tasks_idle(fx_only_runtime(d), ((struct ids *)arg)->v,
			     1 + NSLEEPERS, 1);
}

/* The line of `text` that starts with `prefix`, or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, prefix, n) == 0)
			return p;
	}
	return NULL;
}

static size_t count_substr(const char *text, const char *s)
{
	size_t n = 0;
	for (const char *p = strstr(text, s); p; p = strstr(p + 1, s))
		n++;
	return n;
}

#define ROOT "\xe2\x95\xbc "         /* ╼ */
#define MID "\xe2\x94\x9c\xe2\x95\xbc " /* ├╼ */
#define LAST "\xe2\x94\x94\xe2\x95\xbc " /* └╼ */
#define BAR "\xe2\x94\x82  "        /* │ and two spaces */

static void check_text(const td_dump *d, const struct ids *ids, int flavor)
{
	const td_dump_runtime *r = fx_only_runtime(d);
	char *text = fx_text(d);
	char buf[256];

	/* Header: the keys in their order, then a blank line. */
	static const char *const keys[] = {"taskdump 1\n", "pid ", "program ",
					   "time ", "mode incremental\n",
					   "pause_ms ", "span_ms ", "capture_ms ",
					   "symbolize_ms ", "total_ms ",
					   "runtimes 1\n", "tasks "};
	const char *p = text;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		ck_assert_msg(strncmp(p, keys[k], strlen(keys[k])) == 0,
			      "header line %zu: %.40s, expected %s", k, p,
			      keys[k]);
		p = strchr(p, '\n') + 1;
	}
	ck_assert_msg(*p == '\n', "no blank line after the header");
	snprintf(buf, sizeof(buf), "pid %d\n", (int)getpid());
	ck_assert(strstr(text, buf));
	snprintf(buf, sizeof(buf), "\ntasks %zu\n\n", d->ntasks);
	ck_assert_msg(strstr(text, buf), "no '%s'", buf);

	/* The runtime line and one line per worker. */
	snprintf(buf, sizeof(buf),
		 "runtime %llu name=\"fmt\" flavor=%s workers=%u tasks=%zu "
		 "traced=%zu pause_ms=",
		 (unsigned long long)r->id, fx_flavors[flavor].flavor_name,
		 fx_flavors[flavor].nworkers, r->ntasks, r->traced);
	ck_assert_msg(line_starting(text, buf), "no '%s' in\n%s", buf, text);
	for (unsigned w = 0; w < fx_flavors[flavor].nworkers; w++) {
		snprintf(buf, sizeof(buf), "worker %u state=running ", w);
		ck_assert_msg(line_starting(text, buf), "no '%s'", buf);
	}

	/* Every task, by id, and the block_on future. */
	const char *main_line =
		line_starting(text, "task 0 name=\"block_on\" block_on=1 ");
	ck_assert(main_line);
	/* Last on its line: the future's type name (its vtable's). */
	ck_assert_msg(strstr(main_line, " type=\"fx_main\"\n") ==
			      strchr(main_line, '\n') - 15,
		      "no type on %.200s", main_line);
	for (int k = 0; k < 1 + NSLEEPERS; k++) {
		snprintf(buf, sizeof(buf), "task %llu ",
			 (unsigned long long)ids->v[k]);
		ck_assert_msg(line_starting(text, buf), "no '%s'", buf);
	}
	ck_assert_uint_eq(count_substr(text, "\ntask "), r->ntasks);
	/* The sleepers' name is escaped. */
	ck_assert_uint_eq(count_substr(text, " name=\"we\\\"ird\\tname\" "),
			  NSLEEPERS);

	/* The fan-out tree: its root, the join_all, three children. */
	snprintf(buf, sizeof(buf), ROOT "fan_poll at ");
	const char *root = line_starting(text, buf);
	ck_assert_msg(root, "no fan root in\n%s", text);
	snprintf(buf, sizeof(buf), "test_dump_format.c:%d\n",
		 atomic_load(&line_fan));
	ck_assert(strstr(root, buf) && strstr(root, buf) < strchr(root, '\n') + 1);
	ck_assert(strstr(root, "\n   " LAST "td_join_all_poll at "));
	/* The exact prefixes: depth 2 children, a bar below the two that
	 * have a later sibling, spaces below the last one. */
	ck_assert(strstr(root, "\n      " MID "leg_a_poll at "));
	ck_assert(strstr(root, "\n      " BAR LAST FX_LEAF_SLEEP " at "));
	ck_assert(strstr(root, "\n      " MID "leg_b_poll at "));
	ck_assert(strstr(root, "\n      " LAST "leg_c_poll at "));
	ck_assert(strstr(root, "\n         " LAST FX_LEAF_SLEEP " at "));
	/* Two children with a later sibling, one last child, their leaves
	 * below a bar (or spaces for the last one), each annotated. */
	ck_assert(strstr(root, MID "leg_a_poll at "));
	ck_assert(strstr(root, MID "leg_b_poll at "));
	ck_assert(strstr(root, LAST "leg_c_poll at "));
	ck_assert_uint_ge(count_substr(root, BAR LAST FX_LEAF_SLEEP " at "), 2);
	ck_assert(strstr(root, "[waiting: sleep, "));
	ck_assert_uint_eq(count_substr(text, "[waiting: notify 0x"),
			  NSLEEPERS + 1); /* and the block_on future */
	/* Entries end with a blank line, and so does the file. */
	size_t len = strlen(text);
	ck_assert(len > 2 && text[len - 1] == '\n' && text[len - 2] == '\n');
	ck_assert_ptr_null(strstr(text, "\n\n\n"));

	/* Grouped: the identical sleepers share one tree. */
	char *grouped = NULL;
	size_t glen = 0;
	FILE *f = open_memstream(&grouped, &glen);
	td_write_options go = {.group = true};
	ck_assert_int_eq(td_dump_write_text(d, f, &go), 0);
	fclose(f);
	ck_assert_uint_eq(count_substr(grouped, "\ntask "), r->ntasks);
	ck_assert_uint_eq(count_substr(text, "\n" ROOT "sleeper_poll at "),
			  NSLEEPERS);
	ck_assert_uint_eq(count_substr(grouped, "\n" ROOT "sleeper_poll at "),
			  1);
	free(grouped);
	free(text);
}

/* A python3 script that checks the JSON and prints what it read. */
static const char json_script[] =
	"import json, sys\n"
	"raw = open(sys.argv[1], 'rb').read().decode('utf-8')\n"
	"pairs = json.loads(raw, object_pairs_hook=lambda p: p)\n"
	"assert pairs[0][0] == 'taskdump', pairs[0][0]\n"
	"d = json.loads(raw)\n"
	"out = ['v%d' % d['taskdump'], 'rt%d' % len(d['runtimes']),\n"
	"       'n%d' % d['tasks_total']]\n"
	"for r in d['runtimes']:\n"
	"    out.append('R%d:%s:%s:%d' % (r['id'], r['name'], r['flavor'],\n"
	"                                len(r['workers'])))\n"
	"    for t in r['tasks']:\n"
	"        last = [tr['frames'][-1]['function'] + '/' + tr['wait']['kind']\n"
	"                for tr in t['traces']]\n"
	"        out.append('T%d:%s:%s:%d:%s:%s' % (t['id'], t['state'],\n"
	"                   t['traced'], t['polls'], t['type'],\n"
	"                   ','.join(last)))\n"
	"print(' '.join(out))\n";

static bool have_python(void)
{
	return system("python3 -c 'import json' >/dev/null 2>&1") == 0;
}

/* What the script should print for d. */
static char *expected_summary(const td_dump *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "v%d rt%zu n%zu", d->version, d->nruntimes, d->ntasks);
	for (size_t i = 0; i < d->nruntimes; i++) {
		const td_dump_runtime *r = &d->runtimes[i];
		fprintf(f, " R%llu:%s:%s:%zu", (unsigned long long)r->id,
			r->name, r->flavor, r->nworkers);
		for (size_t k = 0; k < r->ntasks; k++) {
			const td_dump_task *t = &r->tasks[k];
			fprintf(f, " T%llu:%s:%s:%llu:%s:",
				(unsigned long long)t->id,
				td_dump_task_state_name(t->state),
				t->traced ? "True" : "False",
				(unsigned long long)t->polls,
				t->type_name ? t->type_name : "None");
			for (size_t j = 0; j < t->ntraces; j++) {
				const td_dump_trace *tr = &t->traces[j];
				fprintf(f, "%s%s/%s", j ? "," : "",
					tr->frames[tr->nframes - 1].function,
					td_wait_kind_name(tr->wait.kind));
			}
		}
	}
	fprintf(f, "\n");
	fclose(f);
	return buf;
}

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	char buf[4096];
	size_t n;

	ck_assert_ptr_nonnull(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		fwrite(buf, 1, n, m);
	int st = pclose(p);
	fclose(m);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "'%s' failed (%d): %s", cmd, st, out);
	return out;
}

/* Called with no runtime left (no other thread while python runs). */
static void check_json_file(const char *path, const char *expect)
{
	char cmd[512], script[] = "/tmp/td_dump_fmt_XXXXXX.py";
	int fd = mkstemps(script, 3);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, json_script, sizeof(json_script) - 1),
			 (ssize_t)(sizeof(json_script) - 1));
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 -m json.tool '%s' >/dev/null", path);
	free(run_capture(cmd));
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s'", script, path);
	char *got = run_capture(cmd);
	ck_assert_str_eq(got, expect);
	free(got);
	unlink(script);
}

START_TEST(test_writers_on_real_dump)
{
	td_notify n;
	struct ids ids;
	td_runtime *rt = fx_runtime_new(_i, "fmt");
	fx_driver *drv = fx_driver_start(rt);
	td_join_handle h;

	td_notify_init(&n);
	fan fa = {.base = {&fan_vt}};
	ck_assert_int_eq(td_spawn_named(rt, "fan", &fa, &h), 0);
	ids.v[0] = td_join_handle_id(&h);
	td_join_handle_detach(&h);
	for (int k = 0; k < NSLEEPERS; k++) {
		sleeper s = {.base = {&sleeper_vt}, .n = &n};
		ck_assert_int_eq(td_spawn_named(rt, "we\"ird\tname", &s, &h), 0);
		ids.v[1 + k] = td_join_handle_id(&h);
		td_join_handle_detach(&h);
	}
	td_dump *d = fx_dump_until(rt, NULL, parked, &ids, 20000,
				   "tasks parked");
	fx_print(d, "format");
	check_text(d, &ids, _i);

	/* JSON: in memory first (starts with the version key) ... */
	free(fx_json(d));
	char path[] = "/tmp/td_dump_fmt_XXXXXX.json";
	int fd = mkstemps(path, 5);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	ck_assert_int_eq(td_dump_write_json(d, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	char *expect = expected_summary(d);
	td_dump_free(d);

	/* ... then read back by python3, once the runtime is gone. */
	td_notify_waiters(&n);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_notify_destroy(&n);
	if (have_python())
		check_json_file(path, expect);
	else
		fprintf(stderr, "python3 not found: JSON not validated\n");
	unlink(path);
	free(expect);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_format");
	TCase *tc = tcase_create("format");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_writers_on_real_dump, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
