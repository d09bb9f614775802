/* bench_dump_stuck.c - dumps while one worker is stuck in a poll.
 *
 *   dump_stuck_blocked  the stuck task sleeps in nanosleep(2)
 *   dump_stuck_busy     the stuck task spins (CPU-bound)
 *
 * n idle tasks (each asleep for an hour) and one stuck task, on a
 * multi-thread runtime (--threads 2 or more: the benchmark task runs on
 * another worker).  The benchmark task dumps the runtime DUMPS times and
 * reports:
 *
 *   pause_ms       median time the other workers were stopped
 *   max_pause_ms   the longest of them
 *   first_total_ms the first dump (the busy worker's stack unwound and
 *                  symbolized from cold: the modules' DWARF is read)
 *   total_ms       median of the later dumps
 *   stack=1        every dump had the busy worker's native stack
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "taskdump/dump.h"

#define DUMPS 10

struct stuck_shared {
	atomic_int entered, stop;
	bool busy; /* spin rather than sleep */
};

static struct stuck_shared *ss;

__attribute__((noinline)) static void stuck_wait(void)
{
	while (!atomic_load_explicit(&ss->stop, memory_order_relaxed)) {
		if (ss->busy) {
			__asm__ volatile("pause" ::: "memory");
		} else {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

typedef struct stuck {
	td_future base;
} stuck;

static td_poll stuck_poll(td_future *f, td_context *cx)
{
	(void)f, (void)cx;
	atomic_store(&ss->entered, 1);
	stuck_wait();
	return TD_READY;
}

static const td_future_vtable stuck_vtable = {.poll = stuck_poll};

typedef struct idler {
	td_future base;
	td_async as;
	td_sleep nap;
} idler;

static td_poll idler_poll(td_future *f, td_context *cx)
{
	idler *i = (idler *)f;
	TD_BEGIN(&i->as);
	td_sleep_init(&i->nap, 3600 * 1000);
	TD_AWAIT(&i->as, &i->nap, cx);
	TD_END(&i->as);
}

static void idler_drop(td_future *f)
{
	td_async_drop(&((idler *)f)->as);
}

static const td_future_vtable idler_vtable = {.poll = idler_poll,
					      .drop = idler_drop};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef struct ds_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	td_sleep settle;
	td_join_handle stuck;
} ds_body;

static td_poll ds_body_poll(td_future *f, td_context *cx)
{
	ds_body *b = (ds_body *)f;

	TD_BEGIN(&b->as);
	for (size_t i = 0; i < b->ctx->n; i++) {
		idler t = {.base = {&idler_vtable}};
		if (td_spawn(NULL, &t, NULL) != 0)
			abort();
	}
	{
		stuck s = {.base = {&stuck_vtable}};
		if (td_spawn(NULL, &s, &b->stuck) != 0)
			abort();
	}
	while (!atomic_load(&ss->entered)) {
		td_sleep_init(&b->settle, 5);
		TD_AWAIT(&b->as, &b->settle, cx);
	}
	td_sleep_init(&b->settle, 100); /* every idler parked */
	TD_AWAIT(&b->as, &b->settle, cx);
	{
		double pause[DUMPS], total[DUMPS];
		bool stacks = true;
		for (int i = 0; i < DUMPS; i++) {
			double t0 = bench_now();
			td_dump *d;
			if (td_runtime_dump(b->ctx->rt, NULL, &d) != 0)
				abort();
			total[i] = (bench_now() - t0) * 1e3;
			pause[i] = d->pause_ms;
			bool seen = false;
			const td_dump_runtime *r = &d->runtimes[0];
			for (size_t w = 0; w < r->nworkers; w++)
				if (r->workers[w].state &&
				    strcmp(r->workers[w].state, "busy") == 0 &&
				    r->workers[w].task_id ==
					    td_join_handle_id(&b->stuck) &&
				    r->workers[w].nstack > 0)
					seen = true;
			stacks &= seen;
			td_dump_free(d);
		}
		double first = total[0];
		qsort(pause, DUMPS, sizeof(double), cmp_double);
		qsort(total + 1, DUMPS - 1, sizeof(double), cmp_double);
		bench_appendf(b->ctx,
			      "pause_ms=%.3f max_pause_ms=%.3f "
			      "first_total_ms=%.3f total_ms=%.3f stack=%d",
			      pause[DUMPS / 2], pause[DUMPS - 1], first,
			      total[1 + (DUMPS - 1) / 2], stacks ? 1 : 0);
	}
	atomic_store(&ss->stop, 1);
	td_join_handle_detach(&b->stuck);
	TD_END(&b->as);
}

static const td_future_vtable ds_body_vtable = {.poll = ds_body_poll};

static td_future *make(struct bench_ctx *ctx, bool busy)
{
	if (!ctx->multi_thread || ctx->threads < 2) {
		fprintf(stderr, "taskdump-bench: dump_stuck_*: needs --threads "
				"2 or more (a worker besides the stuck one)\n");
		exit(2);
	}
	ds_body *b = calloc(1, sizeof(*b));
	ss = calloc(1, sizeof(*ss));
	if (!b || !ss)
		return NULL;
	ss->busy = busy;
	b->base.vtable = &ds_body_vtable;
	b->ctx = ctx;
	ctx->state = b;
	return &b->base;
}

static td_future *make_blocked(struct bench_ctx *ctx)
{
	return make(ctx, false);
}

static td_future *make_busy(struct bench_ctx *ctx)
{
	return make(ctx, true);
}

static void cleanup(struct bench_ctx *ctx)
{
	free(ctx->state);
	free(ss);
}

const struct bench_workload bench_dump_stuck_blocked = {
	.name = "dump_stuck_blocked", .make = make_blocked, .cleanup = cleanup};
const struct bench_workload bench_dump_stuck_busy = {
	.name = "dump_stuck_busy", .make = make_busy, .cleanup = cleanup};
