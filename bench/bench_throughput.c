/* bench_throughput.c - spawn_join and yield_many. */
#include <stdlib.h>

#include "bench.h"

/* ---- spawn_join: spawn n tasks returning at once, await every handle - */

typedef struct sj_task {
	td_future base;
	uintptr_t i;
} sj_task;

static td_poll sj_task_poll(td_future *f, td_context *cx)
{
	(void)f;
	(void)cx;
	return TD_READY;
}

static void *sj_task_output(td_future *f)
{
	return (void *)((sj_task *)f)->i;
}

static const td_future_vtable sj_task_vtable = {
	.poll = sj_task_poll, .output = sj_task_output, .type_name = "sj_task"};

typedef struct sj_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	size_t i;
	td_join_handle *handles;
	td_join join;
	uintptr_t sum;
	double t0;
} sj_body;

static td_poll sj_body_poll(td_future *f, td_context *cx)
{
	sj_body *b = (sj_body *)f;
	size_t n = b->ctx->n;

	TD_BEGIN(&b->as);
	b->t0 = bench_now();
	for (b->i = 0; b->i < n; b->i++) {
		sj_task t = {{&sj_task_vtable}, b->i};
		if (td_spawn(NULL, &t, &b->handles[b->i]) != 0)
			abort();
	}
	for (b->i = 0; b->i < n; b->i++) {
		td_join_init(&b->join, &b->handles[b->i]);
		TD_AWAIT(&b->as, &b->join, cx);
		b->sum += (uintptr_t)b->join.output;
	}
	double el = bench_now() - b->t0;
	if (b->sum != (uintptr_t)n * (n - 1) / 2)
		abort();
	bench_appendf(b->ctx,
		      "secs=%.6f rate=%.0f unit=tasks/s ns_per_task=%.1f", el,
		      (double)n / el, el * 1e9 / (double)(n ? n : 1));
	TD_END(&b->as);
}

static const td_future_vtable sj_body_vtable = {.poll = sj_body_poll,
						.type_name = "spawn_join"};

static td_future *sj_make(struct bench_ctx *ctx)
{
	sj_body *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->base.vtable = &sj_body_vtable;
	b->ctx = ctx;
	b->handles = malloc((ctx->n ? ctx->n : 1) * sizeof(*b->handles));
	if (!b->handles) {
		free(b);
		return NULL;
	}
	ctx->state = b;
	return &b->base;
}

static void sj_cleanup(struct bench_ctx *ctx)
{
	sj_body *b = ctx->state;
	free(b->handles);
	free(b);
}

const struct bench_workload bench_spawn_join = {
	.name = "spawn_join", .make = sj_make, .cleanup = sj_cleanup};

/* ---- yield_many: 1000 tasks, each yields n/1000 times ----------------- */

#define YM_TASKS 1000

typedef struct ym_task {
	td_future base;
	td_async as;
	size_t per, i;
	td_yield y;
} ym_task;

static td_poll ym_task_poll(td_future *f, td_context *cx)
{
	ym_task *t = (ym_task *)f;
	TD_BEGIN(&t->as);
	for (t->i = 0; t->i < t->per; t->i++) {
		td_yield_init(&t->y);
		TD_AWAIT(&t->as, &t->y, cx);
	}
	TD_END(&t->as);
}

static const td_future_vtable ym_task_vtable = {.poll = ym_task_poll,
						.type_name = "ym_task"};

typedef struct ym_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	size_t per, i;
	td_join_handle handles[YM_TASKS];
	td_join join;
	double t0;
} ym_body;

static td_poll ym_body_poll(td_future *f, td_context *cx)
{
	ym_body *b = (ym_body *)f;

	TD_BEGIN(&b->as);
	b->per = b->ctx->n / YM_TASKS ? b->ctx->n / YM_TASKS : 1;
	b->t0 = bench_now();
	for (b->i = 0; b->i < YM_TASKS; b->i++) {
		ym_task t = {.base = {&ym_task_vtable}, .per = b->per};
		if (td_spawn(NULL, &t, &b->handles[b->i]) != 0)
			abort();
	}
	for (b->i = 0; b->i < YM_TASKS; b->i++) {
		td_join_init(&b->join, &b->handles[b->i]);
		TD_AWAIT(&b->as, &b->join, cx);
	}
	double el = bench_now() - b->t0;
	size_t total = b->per * YM_TASKS;
	bench_appendf(b->ctx,
		      "tasks=%d yields_per_task=%zu total_yields=%zu secs=%.6f "
		      "rate=%.0f unit=polls/s ns_per_poll=%.1f",
		      YM_TASKS, b->per, total, el, (double)total / el,
		      el * 1e9 / (double)total);
	TD_END(&b->as);
}

static const td_future_vtable ym_body_vtable = {.poll = ym_body_poll,
						.type_name = "yield_many"};

static td_future *ym_make(struct bench_ctx *ctx)
{
	ym_body *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->base.vtable = &ym_body_vtable;
	b->ctx = ctx;
	ctx->state = b;
	return &b->base;
}

static void ym_cleanup(struct bench_ctx *ctx)
{
	free(ctx->state);
}

const struct bench_workload bench_yield_many = {
	.name = "yield_many", .make = ym_make, .cleanup = ym_cleanup};
