/* test_roundtrip.c - the tool's parsers read what the runtime's writers
 * write, and the tool's text writer writes what the runtime's does.
 *
 * A td_dump is built by hand with every corner the formats have (escapes
 * in names and tokens, a busy worker with a native stack, a runtime with
 * an error, truncated and frameless traces, inlined and module-only
 * frames, a join of several leaves, grouped tasks, waits without text),
 * written with td_dump_write_text / td_dump_write_json, read back with
 * tdc_load_mem, and compared field by field with the original; then the
 * tool's own writer must reproduce the runtime's text byte for byte, and
 * its JSON must read back to the same model. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "taskdump/dump.h"
#include "write.h"

/* ---- the dump -------------------------------------------------------- */

static td_dump_frame fr(const char *fn, const char *file, int line)
{
	return (td_dump_frame){.ip = 0x55d1c0a01000u + (uintptr_t)line,
			       .function = fn, .file = file, .line = line,
			       .module = "taskdump-demo",
			       .module_offset = 0x1000u + (uintptr_t)line};
}

static td_dump_frame f_main[] = {{0}}, f_tick[2], f_join[3][4], f_io[2],
		     f_grp[2], f_trunc[2], f_native[3];
static td_dump_trace t_main[1], t_tick[1], t_join[3], t_io[1], t_grp[1],
		     t_trunc[1], t_empty[1];
static td_dump_task tasks1[8];
static td_dump_worker workers1[2];
static td_dump_runtime runtimes[2];
static td_dump dump;

static void build(void)
{
	f_main[0] = fr("demo_main_poll", "examples/demo/main.c", 84);
	t_main[0] = (td_dump_trace){
		.wait = {.kind = TD_WAIT_JOIN, .task_id = 3},
		.wait_text = NULL, /* the writer formats it */
		.frames = f_main, .nframes = 1};

	f_tick[0] = fr("ticker_poll", "examples/demo/ticker.c", 24);
	f_tick[1] = fr("td_sleep_poll", "../../runtime/src/time/sleep.c", 23);
	t_tick[0] = (td_dump_trace){
		.wait = {.kind = TD_WAIT_SLEEP, .deadline_ms = 1234},
		.wait_text = "sleep, 688 ms left [sic]",
		.frames = f_tick, .nframes = 2};

	for (int i = 0; i < 3; i++) {
		f_join[i][0] = fr("fanout_poll", "examples/demo/fanout.c", 77);
		f_join[i][1] = fr("td_join_all_poll", "join_all.c", 75);
		f_join[i][1].inlined = false;
		f_join[i][2] = fr("child_poll", "examples/demo/fanout.c",
				  30 + i);
		f_join[i][2].inlined = i == 1;
		f_join[i][3] = fr("td_sleep_poll", "sleep.c", 23);
		t_join[i] = (td_dump_trace){
			.wait = {.kind = TD_WAIT_SLEEP},
			.wait_text = i == 2 ? "sleep, 5 ms left" :
					      "sleep, 7 ms left",
			.frames = f_join[i], .nframes = 4};
	}

	/* No file: " in module+0x..."; no name at all: the address. */
	f_io[0] = fr("libfoo.so+0x1a2b", NULL, 0);
	f_io[0].module = "libfoo.so";
	f_io[0].module_offset = 0x1a2b;
	f_io[1] = fr("io_poll", NULL, 0);
	f_io[1].module = "/usr/lib/my lib.so";
	f_io[1].module_offset = 0x40;
	t_io[0] = (td_dump_trace){
		.wait = {.kind = TD_WAIT_IO, .fd = 7, .events = TD_WAIT_READ,
			 .label = "read"},
		.wait_text = "io fd 7 readable read",
		.frames = f_io, .nframes = 2};

	f_grp[0] = fr("client_poll", "examples/demo/client.c", 144);
	f_grp[1] = fr("lock_poll", "runtime/src/sync/mutex.c", 132);
	t_grp[0] = (td_dump_trace){
		.wait = {.kind = TD_WAIT_MUTEX, .object = (void *)0x5581e2f0,
			 .task_id = 4},
		.wait_text = "mutex 0x5581e2f0 held by task 4",
		.frames = f_grp, .nframes = 2};

	f_trunc[0] = fr("deep_poll", "deep.c", 10);
	f_trunc[1] = fr("td_yield_poll", "yield.c", 5);
	t_trunc[0] = (td_dump_trace){.wait = {.kind = TD_WAIT_YIELD},
				     .wait_text = "yield", .frames = f_trunc,
				     .nframes = 2, .truncated = true};
	t_empty[0] = (td_dump_trace){.wait = {.kind = TD_WAIT_NOTIFY,
					      .object = (void *)0x10},
				     .wait_text = "notify 0x10"};

	tasks1[0] = (td_dump_task){
		.id = 0, .name = "block_on", .is_block_on = true,
		.state = TD_DUMP_IDLE, .queue_worker = -1, .polls = 1,
		.idle_ms = 992, .worker = -1, .traced = true,
		.spawn_function = "main", .traces = t_main, .ntraces = 1};
	tasks1[1] = (td_dump_task){
		.id = 2, .name = "tick \"er\"\n\ttab\x01 na\xc3\xafve",
		.state = TD_DUMP_IDLE, .queue_worker = -1, .polls = 5,
		.idle_ms = 196, .worker = 1, .traced = true,
		.spawn_file = "dir with space/ticker.c", .spawn_line = 42,
		.spawn_function = "demo_spawn_ticker",
		.type_name = "ticker \"v2\"\t",
		.traces = t_tick, .ntraces = 1};
	tasks1[2] = (td_dump_task){
		.id = 3, .state = TD_DUMP_NOTIFIED,
		.queue = TD_DUMP_QUEUE_LIFO, .queue_worker = 1, .polls = 8,
		.idle_ms = 1, .worker = 0, .traced = true,
		.traces = t_join, .ntraces = 3};
	tasks1[3] = (td_dump_task){
		.id = 4, .name = "io", .state = TD_DUMP_IDLE,
		.queue_worker = -1, .polls = 2, .idle_ms = 0, .worker = 0,
		.traced = true, .traces = t_io, .ntraces = 1};
	for (int i = 4; i < 6; i++)
		tasks1[i] = (td_dump_task){
			.id = (uint64_t)i + 1, .name = "client",
			.state = TD_DUMP_IDLE, .queue_worker = -1,
			.polls = (uint64_t)i * 10, .idle_ms = 24, .worker = 1,
			.traced = true, .spawn_file = "client.c",
			.spawn_line = 167, .traces = t_grp, .ntraces = 1};
	tasks1[6] = (td_dump_task){
		.id = 7, .name = "stuck", .state = TD_DUMP_RUNNING,
		.queue_worker = -1, .polls = 1, .idle_ms = 5012, .worker = 1,
		.traced = false,
		.not_traced = "running on worker 1 for 5012 ms"};
	tasks1[7] = (td_dump_task){
		.id = 9, .state = TD_DUMP_CANCELLED,
		.queue = TD_DUMP_QUEUE_INJECT,
		.queue_worker = -1, .polls = 3, .idle_ms = 77, .worker = 0,
		.traced = true, .traces = t_trunc, .ntraces = 1};
	/* A second trace of task 9 with no frames at all is not possible
	 * with static arrays of one; task 4 gets the frameless one below. */

	f_native[0] = fr("spin_forever", "examples/demo/stuck.c", 41);
	f_native[1] = fr("stuck_poll", NULL, 0);
	f_native[2] = fr("", NULL, 0); /* no name: shown as its address */
	f_native[2].module = NULL;
	workers1[0] = (td_dump_worker){.index = 0, .tid = 4243,
				       .state = "paused", .paused = true};
	workers1[1] = (td_dump_worker){.index = 1, .tid = 4244,
				       .state = "busy", .task_id = 7,
				       .busy_ms = 5012, .queued = 1,
				       .stack = f_native, .nstack = 3};

	runtimes[0] = (td_dump_runtime){
		.id = 1, .name = "demo", .flavor = "multi_thread",
		.workers = workers1, .nworkers = 2, .tasks = tasks1,
		.ntasks = 8, .traced = 6, .pause_ms = 0.398};
	runtimes[1] = (td_dump_runtime){
		.id = 2, .name = "bye", .flavor = "current_thread",
		.pause_ms = 0, .error = "shutting \"down\""};

	dump = (td_dump){.version = 1, .pid = 4242,
			 .program = "/usr/local/bin/taskdump demo",
			 .time_unix_ms = 1795792831123, .pause_ms = 0.412,
			 .capture_ms = 0.38, .symbolize_ms = 1.21,
			 .total_ms = 2.103, .runtimes = runtimes,
			 .nruntimes = 2, .ntasks = 8};
}

/* ---- helpers --------------------------------------------------------- */

static char *write_lib(bool json, bool group, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	td_write_options o = {.group = group};

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(json ? td_dump_write_json(&dump, f) :
				td_dump_write_text(&dump, f, &o), 0);
	fclose(f);
	return buf;
}

static char *write_tool(const tdc_dump *d, bool json, bool group,
			size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	ck_assert_ptr_nonnull(f);
	if (json)
		tdc_write_json(f, d);
	else
		tdc_write_text(f, d, group);
	fclose(f);
	return buf;
}

static tdc_dump *load(const char *data, size_t len)
{
	tdc_dump *d = NULL;
	tdc_err e = {.status = 0};
	int rc = tdc_load_mem("mem", data, len, &d, &e);

	if (rc != 0)
		fprintf(stderr, "%.*s\n", (int)len, data);
	ck_assert_msg(rc == 0, "parse failed: %s", e.msg);
	return d;
}

static void check_frame(const tdc_frame *got, const td_dump_frame *want,
			bool json)
{
	char addr[32];
	const char *file = want->file;

	if (file && strncmp(file, "../../", 6) == 0)
		file += 6;
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)want->ip);
	ck_assert_str_eq(got->function,
			 want->function[0] ? want->function : addr);
	if (file) {
		ck_assert_str_eq(got->file, file);
		ck_assert_uint_eq(got->line, (uint64_t)want->line);
	} else {
		ck_assert_ptr_null(got->file);
	}
	ck_assert_int_eq(got->inlined, want->inlined);
	if (json) {
		ck_assert_uint_eq(got->ip.v, want->ip);
		if (want->module)
			ck_assert_str_eq(got->module, want->module);
	} else if (!file && want->module &&
		   strncmp(want->function, want->module,
			   strlen(want->module)) != 0) {
		ck_assert_str_eq(got->module, want->module);
		ck_assert_uint_eq(got->offset.v, want->module_offset);
	}
}

static void check_trace(const tdc_trace *got, const td_dump_trace *want,
			bool json)
{
	char text[256];

	td_wait_format(&want->wait, 0, text, sizeof(text));
	ck_assert_uint_eq(got->nframes, want->nframes);
	ck_assert_int_eq(got->truncated, want->truncated);
	ck_assert_str_eq(got->wait.kind, td_wait_kind_name(want->wait.kind));
	if (want->wait_text && !strchr(want->wait_text, ']'))
		ck_assert_str_eq(got->wait.text, want->wait_text);
	else if (!want->wait_text)
		ck_assert_str_eq(got->wait.text, text);
	for (size_t i = 0; i < want->nframes; i++)
		check_frame(got->frames[i], &want->frames[i], json);
}

static void check_task(const tdc_task *got, const td_dump_task *want,
		       bool json)
{
	ck_assert_uint_eq(got->id, want->id);
	if (want->name)
		ck_assert_str_eq(got->name, want->name);
	else
		ck_assert_ptr_null(got->name);
	if (want->type_name)
		ck_assert_str_eq(got->type, want->type_name);
	else
		ck_assert_ptr_null(got->type);
	ck_assert_int_eq(got->block_on, want->is_block_on);
	ck_assert_str_eq(got->state, td_dump_task_state_name(want->state));
	if (want->queue)
		ck_assert_str_eq(got->queue, td_dump_queue_name(want->queue));
	else
		ck_assert_ptr_null(got->queue);
	ck_assert_int_eq(got->queue_worker.set, want->queue_worker >= 0);
	ck_assert_uint_eq(got->polls.v, want->polls);
	ck_assert_uint_eq(got->idle_ms.v, want->idle_ms);
	ck_assert_int_eq(got->worker.set, want->worker >= 0);
	if (want->spawn_file) {
		ck_assert_str_eq(got->spawn_file, want->spawn_file);
		ck_assert_uint_eq(got->spawn_line, (uint64_t)want->spawn_line);
	}
	if (want->spawn_function)
		ck_assert_str_eq(got->spawn_function, want->spawn_function);
	ck_assert_int_eq(got->traced, want->traced);
	if (!want->traced)
		ck_assert_str_eq(got->not_traced, want->not_traced);
	ck_assert_uint_eq(got->ntraces, want->ntraces);
	for (size_t i = 0; i < want->ntraces; i++)
		check_trace(&got->traces[i], &want->traces[i], json);
}

static void check_dump(const tdc_dump *d, bool json)
{
	ck_assert_uint_eq(d->pid.v, 4242);
	ck_assert_str_eq(d->program, "/usr/local/bin/taskdump demo");
	ck_assert_ptr_nonnull(d->time);
	ck_assert(d->pause_ms.set && d->pause_ms.v > 0.411 &&
		  d->pause_ms.v < 0.413);
	ck_assert_uint_eq(d->nruntimes, 2);
	ck_assert_str_eq(d->runtimes[1].error, "shutting \"down\"");
	ck_assert_uint_eq(d->runtimes[1].ntasks, 0);
	ck_assert_str_eq(d->runtimes[0].flavor, "multi_thread");
	ck_assert_uint_eq(d->runtimes[0].nworkers, 2);
	ck_assert_str_eq(d->runtimes[0].workers[1].state, "busy");
	ck_assert_uint_eq(d->runtimes[0].workers[1].task.v, 7);
	ck_assert_uint_eq(d->runtimes[0].workers[1].nstack, 3);
	for (size_t i = 0; i < 3; i++)
		check_frame(d->runtimes[0].workers[1].stack[i], &f_native[i],
			    json);
	ck_assert_uint_eq(d->runtimes[0].ntasks, 8);
	for (size_t i = 0; i < 8; i++)
		check_task(&d->runtimes[0].tasks[i], &tasks1[i], json);
}

/* ---- tests ----------------------------------------------------------- */

START_TEST(text_reads_back)
{
	for (int group = 0; group < 2; group++) {
		size_t len;
		char *text = write_lib(false, group, &len);
		tdc_dump *d = load(text, len);

		check_dump(d, false);
		tdc_dump_free(d);
		free(text);
	}
}
END_TEST

START_TEST(json_reads_back)
{
	size_t len;
	char *text = write_lib(true, false, &len);
	tdc_dump *d = load(text, len);

	check_dump(d, true);
	tdc_dump_free(d);
	free(text);
}
END_TEST

/* The tool prints what the runtime prints, from either format. */
START_TEST(tool_text_matches_runtime)
{
	for (int group = 0; group < 2; group++) {
		for (int json = 0; json < 2; json++) {
			size_t ll, tl, sl;
			char *lib = write_lib(false, group, &ll);
			char *src = write_lib(json, false, &sl);
			tdc_dump *d = load(src, sl);
			char *tool = write_tool(d, false, group, &tl);

			if (tl != ll || memcmp(lib, tool, ll) != 0) {
				fprintf(stderr, "--- runtime:\n%s\n--- tool:\n"
					"%s\n", lib, tool);
				ck_abort_msg("group=%d json=%d: the texts "
					     "differ", group, json);
			}
			free(lib);
			free(src);
			free(tool);
			tdc_dump_free(d);
		}
	}
}
END_TEST

/* The tool's JSON reads back to the same facts. */
START_TEST(tool_json_reads_back)
{
	size_t sl, jl;
	char *src = write_lib(true, false, &sl);
	tdc_dump *d = load(src, sl);
	char *json = write_tool(d, true, false, &jl);
	tdc_dump *d2 = load(json, jl);

	check_dump(d2, true);
	tdc_dump_free(d);
	tdc_dump_free(d2);
	free(src);
	free(json);
}
END_TEST

/* Text that the tool writes parses back into text that is identical. */
START_TEST(tool_text_is_stable)
{
	size_t sl, l1, l2;
	char *src = write_lib(true, false, &sl);
	tdc_dump *d = load(src, sl);
	char *t1 = write_tool(d, false, false, &l1);
	tdc_dump *d2 = load(t1, l1);
	char *t2 = write_tool(d2, false, false, &l2);

	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "%s\n---\n%s\n", t1, t2);
		ck_abort_msg("the text changed");
	}
	tdc_dump_free(d);
	tdc_dump_free(d2);
	free(src);
	free(t1);
	free(t2);
}
END_TEST

/* A trace without frames survives both formats. */
START_TEST(frameless_trace)
{
	size_t len;
	char *text;
	tdc_dump *d;

	tasks1[3].traces = t_empty;
	for (int json = 0; json < 2; json++) {
		text = write_lib(json, false, &len);
		d = load(text, len);
		ck_assert_uint_eq(d->runtimes[0].tasks[3].ntraces, 1);
		ck_assert_uint_eq(d->runtimes[0].tasks[3].traces[0].nframes, 0);
		ck_assert_str_eq(d->runtimes[0].tasks[3].traces[0].wait.text,
				 "notify 0x10");
		tdc_dump_free(d);
		free(text);
	}
	tasks1[3].traces = t_io;
}
END_TEST

/* Every wait text td_wait_format writes reads back to its facts: kind,
 * object (the identity), fd, direction, label, task, count, value. */
START_TEST(wait_texts_parse)
{
	static const td_wait waits[] = {
		{.kind = TD_WAIT_SLEEP, .deadline_ms = 500},
		{.kind = TD_WAIT_SLEEP, .object = (void *)0x51, .deadline_ms = 9},
		{.kind = TD_WAIT_YIELD},
		{.kind = TD_WAIT_IO, .object = (void *)0x5581e2a0, .fd = 4,
		 .events = TD_WAIT_READ, .label = "read"},
		{.kind = TD_WAIT_IO, .object = (void *)0x5581e2a0, .fd = 0,
		 .events = TD_WAIT_READ | TD_WAIT_WRITE, .label = "two words"},
		{.kind = TD_WAIT_IO, .fd = 7, .events = TD_WAIT_WRITE},
		{.kind = TD_WAIT_JOIN, .task_id = 12},
		{.kind = TD_WAIT_MUTEX, .object = (void *)0x77, .task_id = 3},
		{.kind = TD_WAIT_MUTEX, .object = (void *)0x77},
		{.kind = TD_WAIT_MUTEX},
		{.kind = TD_WAIT_SEMAPHORE, .object = (void *)0x78, .count = 2,
		 .value = 1},
		{.kind = TD_WAIT_CHAN_SEND, .object = (void *)0x79, .count = 1,
		 .value = 4},
		{.kind = TD_WAIT_CHAN_RECV, .object = (void *)0x7a, .count = 6},
		{.kind = TD_WAIT_ONESHOT, .object = (void *)0x7b},
		{.kind = TD_WAIT_NOTIFY, .object = (void *)0x7c},
		{.kind = TD_WAIT_NOTIFY},
		{.kind = TD_WAIT_OTHER, .object = (void *)0x7d, .label = "gate"},
		{.kind = TD_WAIT_OTHER, .label = "my gate"},
		{.kind = TD_WAIT_OTHER, .object = (void *)0x7e},
		{.kind = TD_WAIT_OTHER},
		{.kind = TD_WAIT_NONE},
	};
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		const td_wait *w = &waits[i];
		char text[160], obj[32];
		tdc_arena a = {0};
		tdc_wait got = {0};

		td_wait_format(w, 100, text, sizeof(text));
		tdc_wait_from_text(&a, text, &got);
		ck_assert_msg(got.kind && strcmp(got.kind,
						 td_wait_kind_name(w->kind)) == 0,
			      "%s: kind %s", text, got.kind);
		if (w->object) {
			snprintf(obj, sizeof(obj), "%p", w->object);
			ck_assert_msg(got.object && strcmp(got.object, obj) == 0,
				      "%s: object %s", text, got.object);
		} else {
			ck_assert_msg(!got.object, "%s: object %s", text,
				      got.object);
		}
		if (w->kind == TD_WAIT_IO) {
			ck_assert(got.has_fd && got.fd == w->fd);
			ck_assert(got.has_events && got.events == w->events);
		}
		if (w->label && (w->kind == TD_WAIT_IO ||
				 w->kind == TD_WAIT_OTHER))
			ck_assert_msg(got.label && !strcmp(got.label, w->label),
				      "%s: label %s", text, got.label);
		if (w->kind == TD_WAIT_JOIN || (w->kind == TD_WAIT_MUTEX &&
						w->task_id))
			ck_assert_uint_eq(got.task_id.v, w->task_id);
		if (w->kind == TD_WAIT_SEMAPHORE ||
		    w->kind == TD_WAIT_CHAN_SEND ||
		    w->kind == TD_WAIT_CHAN_RECV)
			ck_assert_uint_eq(got.count.v, w->count);
		if (w->kind == TD_WAIT_SEMAPHORE ||
		    w->kind == TD_WAIT_CHAN_SEND)
			ck_assert_uint_eq(got.value.v, w->value);
		tdc_arena_free(&a);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tools_roundtrip");
	TCase *tc = tcase_create("roundtrip");
	SRunner *sr;
	int failed;

	build();
	tcase_add_test(tc, text_reads_back);
	tcase_add_test(tc, json_reads_back);
	tcase_add_test(tc, tool_text_matches_runtime);
	tcase_add_test(tc, tool_json_reads_back);
	tcase_add_test(tc, tool_text_is_stable);
	tcase_add_test(tc, frameless_trace);
	tcase_add_test(tc, wait_texts_parse);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
