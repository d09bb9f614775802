/* bench.h - a 100 000-task dump and the time to write it (part of
 * test_writers.c).  Three distinct traces of 5, 6 and 8 frames (one with
 * an inlined frame), each task with its own frame and trace arrays, name
 * and wait text, as td_dump_runtime() builds them.  The times are printed,
 * never asserted (sanitizer builds are much slower). */
#ifndef TD_TEST_WRITERS_BENCH_H
#define TD_TEST_WRITERS_BENCH_H

#define SRC "/home/dev/taskdump/"

static const td_dump_frame bench_shapes[3][8] = {
	{
		{.function = "server_main_poll", .file = SRC "examples/demo/server.c", .line = 120},
		{.function = "accept_loop_poll", .file = SRC "examples/demo/server.c", .line = 88},
		{.function = "handle_conn_poll", .file = SRC "examples/demo/conn.c", .line = 41},
		{.function = "read_request_poll", .file = SRC "examples/demo/conn.c", .line = 77},
		{.function = "td_io_read_poll", .file = SRC "runtime/src/io/io.c", .line = 210},
	},
	{
		{.function = "client_main_poll", .file = SRC "examples/demo/client.c", .line = 30},
		{.function = "td_join_all_poll", .file = SRC "runtime/src/combinators/join_all.c", .line = 96},
		{.function = "client_request_poll", .file = SRC "examples/demo/client.c", .line = 61},
		{.function = "backoff_poll", .file = SRC "examples/demo/client.c", .line = 12},
		{.function = "td_timeout_poll", .file = SRC "runtime/src/time/timeout.c", .line = 55},
		{.function = "td_sleep_poll", .file = SRC "runtime/src/time/sleep.c", .line = 27},
	},
	{
		{.function = "worker_main_poll", .file = SRC "examples/demo/worker.c", .line = 150},
		{.function = "process_job_poll", .file = SRC "examples/demo/worker.c", .line = 101},
		{.function = "update_stats_poll", .file = SRC "examples/demo/stats.c", .line = 64},
		{.function = "stats_lock", .file = SRC "examples/demo/stats.c", .line = 20, .inlined = true},
		{.function = "td_mutex_lock_poll", .file = SRC "runtime/src/sync/mutex.c", .line = 88},
		{.function = "td_select_poll", .file = SRC "runtime/src/combinators/select.c", .line = 70},
		{.function = "lock_or_cancel_poll", .file = SRC "examples/demo/stats.c", .line = 33},
		{.function = "td_mutex_lock_poll", .file = SRC "runtime/src/sync/mutex.c", .line = 90},
	},
};
static const size_t bench_nframes[3] = {5, 6, 8};
static int bench_mutex;

struct bench_dump {
	td_dump d;
	td_dump_runtime rt;
	td_dump_worker workers[2];
	td_dump_task *tasks;
	td_dump_trace *traces;
	td_dump_frame *frames;
	char *strings;
};

static td_dump *big_dump(size_t n)
{
	struct bench_dump *b = calloc(1, sizeof(*b));
	size_t i, j, f = 0;

	ck_assert(b);
	b->tasks = calloc(n, sizeof(*b->tasks));
	b->traces = calloc(n, sizeof(*b->traces));
	b->frames = calloc(n * 8, sizeof(*b->frames));
	b->strings = malloc(n * 96);
	ck_assert(b->tasks && b->traces && b->frames && b->strings);
	for (i = 0; i < n; i++) {
		unsigned s = (unsigned)(i % 3);
		/* 96 bytes each: the name ("conn-" and up to 20 digits) in 32, the
		 * wait text in the next 48. */
		char *name = b->strings + 96 * i, *wait = name + 32;
		td_dump_trace *tr = &b->traces[i];

		snprintf(name, 32, "conn-%zu", i);
		for (j = 0; j < bench_nframes[s]; j++) {
			b->frames[f + j] = bench_shapes[s][j];
			b->frames[f + j].module = "taskdump-demo";
			b->frames[f + j].module_offset = 0x1000 + 16 * j + s;
			b->frames[f + j].ip = 0x55d1c0a01000u + 16 * j + s;
		}
		tr->frames = &b->frames[f];
		tr->nframes = bench_nframes[s];
		f += bench_nframes[s];
		if (s == 0) {
			tr->wait = (td_wait){.kind = TD_WAIT_IO, .fd = (int)i,
					     .events = TD_WAIT_READ};
			snprintf(wait, 48, "io fd %zu readable", i);
		} else if (s == 1) {
			tr->wait = (td_wait){.kind = TD_WAIT_SLEEP,
					     .deadline_ms = i};
			snprintf(wait, 48, "sleep, %zu ms left", i % 1000);
		} else {
			tr->wait = (td_wait){.kind = TD_WAIT_MUTEX,
					     .object = &bench_mutex,
					     .task_id = 7};
			snprintf(wait, 48, "mutex 0x55d1c0a0 held by task 7");
		}
		tr->wait_text = wait;
		b->tasks[i] = (td_dump_task){
			.id = i + 1, .name = name, .state = TD_DUMP_IDLE,
			.queue_worker = -1, .polls = i % 100,
			.idle_ms = i % 5000, .worker = (int)(i % 2),
			.spawn_file = SRC "examples/demo/server.c",
			.spawn_line = 95, .spawn_function = "accept_loop_poll",
			.traced = true, .traces = tr, .ntraces = 1};
	}
	b->workers[0] = (td_dump_worker){.index = 0, .tid = 100,
					 .state = "paused", .paused = true};
	b->workers[1] = (td_dump_worker){.index = 1, .tid = 101,
					 .state = "paused", .paused = true};
	b->rt = (td_dump_runtime){.id = 1, .name = "bench",
				  .flavor = "multi_thread",
				  .workers = b->workers, .nworkers = 2,
				  .tasks = b->tasks, .ntasks = n, .traced = n,
				  .pause_ms = 12.5};
	b->d = (td_dump){.version = 1, .pid = 1, .program = "bench",
			 .runtimes = &b->rt, .nruntimes = 1, .ntasks = n};
	return &b->d;
}

static void big_dump_free(td_dump *d)
{
	struct bench_dump *b = (struct bench_dump *)d; /* d is the first member */

	free(b->tasks);
	free(b->traces);
	free(b->frames);
	free(b->strings);
	free(b);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Best of `runs` runs into f, in ms; *bytes: the output size. */
static double bench_one(const td_dump *d, FILE *f, int kind, int runs,
			long *bytes)
{
	td_write_options grp = {.group = kind == 1};
	double best = 1e30;
	int r;

	for (r = 0; r < runs; r++) {
		rewind(f);
		long start = ftell(f);
		double t0 = now_us();
		int rc = kind == 2 ? td_dump_write_json(d, f)
				   : td_dump_write_text(d, f, &grp);
		double t = (now_us() - t0) / 1000.0;

		ck_assert_int_eq(rc, 0);
		*bytes = ftell(f) - start;
		if (t < best)
			best = t;
	}
	return best;
}

START_TEST(test_bench_100k)
{
	static const char *const names[] = {"text", "text grouped", "json"};
	td_dump *d = big_dump(100000);
	char path[] = "/tmp/td_writers_bench_XXXXXX";
	int fd = mkstemp(path);
	FILE *null = fopen("/dev/null", "w"), *file = fdopen(fd, "w+");
	long bytes;
	int k;

	ck_assert(fd >= 0 && null && file);
	unlink(path);
	for (k = 0; k < 3; k++) {
		double tn = bench_one(d, null, k, 3, &bytes);
		double tf = bench_one(d, file, k, 1, &bytes);

		printf("writers: 100000 tasks, %-12s %7.1f ms to /dev/null, "
		       "%7.1f ms to a /tmp file (%.1f MB)\n", names[k], tn, tf,
		       (double)bytes / 1e6);
	}
	/* The grouped text has exactly three trees. */
	rewind(file);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	td_write_options grp = {.group = true};
	ck_assert_int_eq(td_dump_write_text(d, file, &grp), 0);
	long size = ftell(file);
	char *buf = malloc((size_t)size + 1);
	ck_assert(buf);
	rewind(file);
	ck_assert_int_eq((long)fread(buf, 1, (size_t)size, file), size);
	buf[size] = 0;
	int roots = 0;
	for (char *p = buf; (p = strstr(p, "\n\xe2\x95\xbc ")); p++)
		roots++;
	ck_assert_int_eq(roots, 3);
	free(buf);
	fclose(null);
	fclose(file);
	big_dump_free(d);
}
END_TEST

#endif /* TD_TEST_WRITERS_BENCH_H */
