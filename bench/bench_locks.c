/* bench_locks.c - mutex_lock, mutex_churn and semaphore_acquire: the cost
 * of the async locks on their uncontended paths (one task, n rounds).
 *
 *   mutex_lock         n x (await td_mutex_lock, td_mutex_unlock)
 *   mutex_churn        n x (td_mutex_init, lock, unlock, td_mutex_destroy):
 *                      what a mutex's whole life costs
 *   semaphore_acquire  n x (await td_semaphore_acquire of 1, release 1)
 *
 * No Tokio counterpart: these measure taskdump's own bookkeeping (what the
 * locks record for dumps), before and after a change, e.g. under
 * `valgrind --tool=callgrind` for instruction counts. */
#include <stdlib.h>

#include "bench.h"

enum lock_kind { LK_MUTEX, LK_CHURN, LK_SEM };

typedef struct lk_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	enum lock_kind kind;
	size_t i;
	td_mutex m;
	td_semaphore s;
	union {
		td_mutex_lock lk;
		td_semaphore_acquire aq;
	} u;
	uint64_t sum;
	double t0;
} lk_body;

static td_poll lk_body_poll(td_future *f, td_context *cx)
{
	lk_body *b = (lk_body *)f;
	size_t n = b->ctx->n;

	TD_BEGIN(&b->as);
	b->t0 = bench_now();
	for (b->i = 0; b->i < n; b->i++) {
		if (b->kind == LK_SEM) {
			td_semaphore_acquire_init(&b->u.aq, &b->s, 1);
			TD_AWAIT(&b->as, &b->u.aq, cx);
			b->sum += td_semaphore_available(&b->s);
			td_semaphore_release(&b->s, 1);
			continue;
		}
		if (b->kind == LK_CHURN)
			td_mutex_init(&b->m);
		td_mutex_lock_init(&b->u.lk, &b->m);
		TD_AWAIT(&b->as, &b->u.lk, cx);
		b->sum += td_mutex_is_locked(&b->m);
		td_mutex_unlock(&b->m);
		if (b->kind == LK_CHURN)
			td_mutex_destroy(&b->m);
	}
	double el = bench_now() - b->t0;
	bench_appendf(b->ctx, "secs=%.6f rate=%.0f unit=ops/s ns_per_op=%.1f",
		      el, (double)n / el, el * 1e9 / (double)(n ? n : 1));
	TD_END(&b->as);
}

static const td_future_vtable lk_body_vtable = {.poll = lk_body_poll,
						.type_name = "lock_bench"};

static td_future *lk_make(struct bench_ctx *ctx, enum lock_kind kind)
{
	lk_body *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->base.vtable = &lk_body_vtable;
	b->ctx = ctx;
	b->kind = kind;
	td_mutex_init(&b->m);
	td_semaphore_init(&b->s, 4);
	ctx->state = b;
	return &b->base;
}

static td_future *ml_make(struct bench_ctx *ctx)
{
	return lk_make(ctx, LK_MUTEX);
}

static td_future *mc_make(struct bench_ctx *ctx)
{
	return lk_make(ctx, LK_CHURN);
}

static td_future *sa_make(struct bench_ctx *ctx)
{
	return lk_make(ctx, LK_SEM);
}

static void lk_cleanup(struct bench_ctx *ctx)
{
	lk_body *b = ctx->state;
	if (b->kind != LK_CHURN)
		td_mutex_destroy(&b->m);
	td_semaphore_destroy(&b->s);
	free(b);
}

const struct bench_workload bench_mutex_lock = {
	.name = "mutex_lock", .make = ml_make, .cleanup = lk_cleanup};
const struct bench_workload bench_mutex_churn = {
	.name = "mutex_churn", .make = mc_make, .cleanup = lk_cleanup};
const struct bench_workload bench_semaphore_acquire = {
	.name = "semaphore_acquire", .make = sa_make, .cleanup = lk_cleanup};
