/* bench_main.c - taskdump-bench: the runtime benchmarks, side by side with
 * ../shared/anchors/tokio-bench (same workloads, sizes, command line and
 * output lines).
 *
 *   taskdump-bench <workload> <n> [--threads T]
 *     T = 0: current-thread runtime (default); T >= 1: multi-thread, T
 *     workers.
 *
 * As in tokio-bench, the benchmark body runs inside a spawned task (on a
 * worker, for the multi-thread flavor) and main only blocks on its join
 * handle (mutex_lock, mutex_churn and semaphore_acquire, bench_locks.c,
 * have no Tokio counterpart).  Each result is one line:
 *
 *   RESULT impl=taskdump flavor=<f> threads=<t> workload=<w> n=<n> k=v...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const struct bench_workload *const workloads[] = {
	&bench_spawn_join,  &bench_yield_many,  &bench_ping_pong,
	&bench_idle_tasks,  &bench_idle_notify, &bench_dump_latency,
	&bench_dump_hold,   &bench_dump_stuck_blocked, &bench_dump_stuck_busy,
	&bench_mutex_lock,  &bench_mutex_churn, &bench_semaphore_acquire,
};

static void usage(void)
{
	fprintf(stderr, "usage: taskdump-bench <");
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		fprintf(stderr, "%s%s", i ? "|" : "", workloads[i]->name);
	fprintf(stderr, "> <n> [--threads T]\n");
	exit(2);
}

static bool parse_size(const char *s, size_t *out)
{
	char buf[64];
	size_t j = 0;
	for (size_t i = 0; s[i] && j + 1 < sizeof(buf); i++)
		if (s[i] != '_')
			buf[j++] = s[i];
	buf[j] = '\0';
	if (j == 0)
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || *end || buf[0] == '-')
		return false;
	*out = (size_t)v;
	return true;
}

/* The spawned task that runs the workload body. */
typedef struct body_future {
	td_future base;
	const struct bench_workload *w;
	struct bench_ctx *ctx;
	td_future *inner; /* the workload's own future (heap) */
} body_future;

static td_poll body_poll(td_future *f, td_context *cx)
{
	body_future *b = (body_future *)f;
	return td_async_poll_child(b->inner, cx);
}

static const td_future_vtable body_vtable = {.poll = body_poll,
					     .type_name = "bench_body"};

typedef struct main_future {
	td_future base;
	td_async as;
	td_join_handle h;
	td_join join;
} main_future;

static td_poll main_poll(td_future *f, td_context *cx)
{
	main_future *m = (main_future *)f;
	TD_BEGIN(&m->as);
	td_join_init(&m->join, &m->h);
	TD_AWAIT(&m->as, &m->join, cx);
	TD_END(&m->as);
}

static const td_future_vtable main_vtable = {.poll = main_poll,
					     .type_name = "bench_main"};

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	const struct bench_workload *w = NULL;
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(argv[1], workloads[i]->name) == 0)
			w = workloads[i];
	size_t n;
	if (!w || !parse_size(argv[2], &n))
		usage();
	long threads = 0;
	for (int i = 3; i < argc; i++) {
		if ((strcmp(argv[i], "--threads") == 0 ||
		     strcmp(argv[i], "-t") == 0) &&
		    i + 1 < argc) {
			char *end;
			threads = strtol(argv[++i], &end, 10);
			if (*end || threads < 0 || threads > TD_MAX_WORKERS)
				usage();
		} else {
			usage();
		}
	}

	td_runtime_config cfg = {0};
	cfg.flavor = threads ? TD_FLAVOR_MULTI_THREAD : TD_FLAVOR_CURRENT_THREAD;
	cfg.workers = (unsigned)threads;
	cfg.name = "bench";
	td_runtime *rt;
	int err = td_runtime_new(&cfg, &rt);
	if (err) {
		fprintf(stderr, "taskdump-bench: cannot create runtime: %s\n",
			strerror(-err));
		return 1;
	}

	struct bench_ctx ctx = {.rt = rt, .n = n,
				.threads = threads ? (unsigned)threads : 1,
				.multi_thread = threads != 0};
	body_future body = {{&body_vtable}, w, &ctx, w->make(&ctx)};
	if (!body.inner) {
		fprintf(stderr, "taskdump-bench: out of memory\n");
		return 1;
	}
	main_future m = {.base = {&main_vtable}};
	if (td_spawn(rt, &body, &m.h) != 0 ||
	    td_runtime_block_on(rt, &m.base, NULL) != 0) {
		fprintf(stderr, "taskdump-bench: the benchmark did not run\n");
		return 1;
	}
	printf("RESULT impl=taskdump flavor=%s threads=%u workload=%s n=%zu %s\n",
	       threads ? "multi_thread" : "current_thread", ctx.threads,
	       w->name, n, ctx.result);
	fflush(stdout);
	if (w->finish)
		w->finish(&ctx);
	td_runtime_free(rt);
	if (w->cleanup)
		w->cleanup(&ctx);
	return 0;
}
