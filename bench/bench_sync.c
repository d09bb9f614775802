/* bench_sync.c - ping_pong, idle_tasks and idle_notify. */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

/* ---- ping_pong: 2 tasks, two mpsc(1) channels, n round trips --------- */

typedef struct pp_echo {
	td_future base;
	td_async as;
	td_mpsc *in, *out;
	uint64_t v;
	td_mpsc_recv recv;
	td_mpsc_send send;
} pp_echo;

static td_poll pp_echo_poll(td_future *f, td_context *cx)
{
	pp_echo *b = (pp_echo *)f;
	TD_BEGIN(&b->as);
	for (;;) {
		td_mpsc_recv_init(&b->recv, b->in, &b->v);
		TD_AWAIT(&b->as, &b->recv, cx);
		if (b->recv.error)
			break; /* the other side hung up */
		b->v++;
		td_mpsc_send_init(&b->send, b->out, &b->v);
		TD_AWAIT(&b->as, &b->send, cx);
		if (b->send.error)
			break;
	}
	td_mpsc_sender_release(b->out);
	td_mpsc_receiver_release(b->in);
	TD_END(&b->as);
}

static const td_future_vtable pp_echo_vtable = {.poll = pp_echo_poll,
						.type_name = "pp_echo"};

typedef struct pp_driver {
	td_future base;
	td_async as;
	td_mpsc *to_b, *from_b;
	size_t n, i;
	uint64_t v;
	td_mpsc_send send;
	td_mpsc_recv recv;
} pp_driver;

static td_poll pp_driver_poll(td_future *f, td_context *cx)
{
	pp_driver *a = (pp_driver *)f;
	TD_BEGIN(&a->as);
	for (a->i = 0; a->i < a->n; a->i++) {
		td_mpsc_send_init(&a->send, a->to_b, &a->v);
		TD_AWAIT(&a->as, &a->send, cx);
		if (a->send.error)
			abort();
		td_mpsc_recv_init(&a->recv, a->from_b, &a->v);
		TD_AWAIT(&a->as, &a->recv, cx);
		if (a->recv.error)
			abort();
	}
	td_mpsc_sender_release(a->to_b); /* lets the echo task finish */
	td_mpsc_receiver_release(a->from_b);
	TD_END(&a->as);
}

static void *pp_driver_output(td_future *f)
{
	return (void *)(uintptr_t)((pp_driver *)f)->v;
}

static const td_future_vtable pp_driver_vtable = {
	.poll = pp_driver_poll, .output = pp_driver_output,
	.type_name = "pp_driver"};

typedef struct pp_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	td_join_handle ha, hb;
	td_join join;
	uint64_t v;
	double t0;
} pp_body;

static td_poll pp_body_poll(td_future *f, td_context *cx)
{
	pp_body *p = (pp_body *)f;
	size_t n = p->ctx->n;

	TD_BEGIN(&p->as);
	{
		td_mpsc *ab = td_mpsc_bounded(sizeof(uint64_t), 1);
		td_mpsc *ba = td_mpsc_bounded(sizeof(uint64_t), 1);
		if (!ab || !ba)
			abort();
		p->t0 = bench_now();
		pp_echo b = {.base = {&pp_echo_vtable}, .in = ab, .out = ba};
		pp_driver a = {.base = {&pp_driver_vtable}, .to_b = ab,
			       .from_b = ba, .n = n};
		if (td_spawn(NULL, &b, &p->hb) || td_spawn(NULL, &a, &p->ha))
			abort();
	}
	td_join_init(&p->join, &p->ha);
	TD_AWAIT(&p->as, &p->join, cx);
	p->v = (uint64_t)(uintptr_t)p->join.output;
	td_join_init(&p->join, &p->hb);
	TD_AWAIT(&p->as, &p->join, cx);
	{
		double el = bench_now() - p->t0;
		if (p->v != n)
			abort();
		bench_appendf(p->ctx,
			      "secs=%.6f rate=%.0f unit=roundtrips/s "
			      "ns_per_roundtrip=%.1f",
			      el, (double)n / el,
			      el * 1e9 / (double)(n ? n : 1));
	}
	TD_END(&p->as);
}

static const td_future_vtable pp_body_vtable = {.poll = pp_body_poll,
						.type_name = "ping_pong"};

static td_future *pp_make(struct bench_ctx *ctx)
{
	pp_body *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.vtable = &pp_body_vtable;
	p->ctx = ctx;
	ctx->state = p;
	return &p->base;
}

static void free_state(struct bench_ctx *ctx)
{
	free(ctx->state);
}

const struct bench_workload bench_ping_pong = {
	.name = "ping_pong", .make = pp_make, .cleanup = free_state};

/* ---- idle_tasks / idle_notify ----------------------------------------
 *
 * n tasks that each count themselves as parked and then wait forever: on
 * their own oneshot (idle_tasks) or on one shared notify (idle_notify).
 * Kept as small as the workload allows, like Tokio's closures: the shared
 * state is reached through one static pointer. */

struct idle_shared {
	size_t n;
	atomic_size_t parked, finished;
	td_notify all_parked;
	td_notify shared;
};

static struct idle_shared *idle;

static void idle_parked(void)
{
	if (atomic_fetch_add(&idle->parked, 1) + 1 == idle->n)
		td_notify_one(&idle->all_parked);
}

typedef struct idle_oneshot_task {
	td_future base;
	td_async as;
	td_oneshot_recv recv;
} idle_oneshot_task;

static td_poll idle_oneshot_poll(td_future *f, td_context *cx)
{
	idle_oneshot_task *t = (idle_oneshot_task *)f;
	TD_BEGIN(&t->as);
	idle_parked();
	TD_AWAIT(&t->as, &t->recv, cx);
	atomic_fetch_add(&idle->finished, 1);
	TD_END(&t->as);
}

static const td_future_vtable idle_oneshot_vtable = {
	.poll = idle_oneshot_poll, .type_name = "idle_oneshot"};

typedef struct idle_notify_task {
	td_future base;
	td_async as;
	td_notified notified;
} idle_notify_task;

static td_poll idle_notify_poll(td_future *f, td_context *cx)
{
	idle_notify_task *t = (idle_notify_task *)f;
	TD_BEGIN(&t->as);
	td_notified_init(&t->notified, &idle->shared);
	td_notified_enable(&t->notified);
	idle_parked();
	TD_AWAIT(&t->as, &t->notified, cx);
	atomic_fetch_add(&idle->finished, 1);
	TD_END(&t->as);
}

static const td_future_vtable idle_notify_vtable = {
	.poll = idle_notify_poll, .type_name = "idle_notify"};

typedef struct idle_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	bool shared_notify;
	size_t i;
	td_oneshot **senders;
	td_notified all;
	td_yield y;
	uint64_t rss0, rss1, hwm;
	double t0, spawn_el, ready_el, t1;
} idle_body;

static td_poll idle_body_poll(td_future *f, td_context *cx)
{
	idle_body *b = (idle_body *)f;
	size_t n = b->ctx->n;

	TD_BEGIN(&b->as);
	b->rss0 = bench_proc_status_kib("VmRSS");
	b->t0 = bench_now();
	for (b->i = 0; b->i < n; b->i++) {
		int err;
		if (b->shared_notify) {
			idle_notify_task t = {.base = {&idle_notify_vtable}};
			err = td_spawn(NULL, &t, NULL);
		} else {
			td_oneshot *ch = td_oneshot_new();
			if (!ch)
				abort();
			b->senders[b->i] = ch;
			idle_oneshot_task t = {.base = {&idle_oneshot_vtable}};
			td_oneshot_recv_init(&t.recv, ch);
			err = td_spawn(NULL, &t, NULL);
		}
		if (err)
			abort();
	}
	b->spawn_el = bench_now() - b->t0;
	if (n > 0) {
		td_notified_init(&b->all, &idle->all_parked);
		TD_AWAIT(&b->as, &b->all, cx);
	}
	b->ready_el = bench_now() - b->t0;
	b->rss1 = bench_proc_status_kib("VmRSS");
	b->hwm = bench_proc_status_kib("VmHWM");

	/* Tear down: wake everybody, time until they have all finished. */
	b->t1 = bench_now();
	if (b->shared_notify) {
		td_notify_waiters(&idle->shared);
	} else {
		for (b->i = 0; b->i < n; b->i++)
			td_oneshot_sender_release(b->senders[b->i]);
	}
	while (atomic_load(&idle->finished) < n) {
		td_yield_init(&b->y);
		TD_AWAIT(&b->as, &b->y, cx);
	}
	{
		double wake_el = bench_now() - b->t1;
		double per_task = (double)(b->rss1 > b->rss0
						   ? b->rss1 - b->rss0
						   : 0) *
				  1024.0 / (double)(n ? n : 1);
		bench_appendf(b->ctx,
			      "wait=%s spawn_ms=%.3f ready_ms=%.3f "
			      "ns_per_spawn=%.1f rss_before_kib=%llu "
			      "rss_after_kib=%llu vmhwm_kib=%llu "
			      "rss_bytes_per_task=%.0f wake_all_ms=%.3f",
			      b->shared_notify ? "shared_notify" : "oneshot",
			      b->spawn_el * 1e3, b->ready_el * 1e3,
			      b->spawn_el * 1e9 / (double)(n ? n : 1),
			      (unsigned long long)b->rss0,
			      (unsigned long long)b->rss1,
			      (unsigned long long)b->hwm, per_task,
			      wake_el * 1e3);
	}
	TD_END(&b->as);
}

static const td_future_vtable idle_body_vtable = {.poll = idle_body_poll,
						  .type_name = "idle"};

static td_future *idle_make(struct bench_ctx *ctx, bool shared_notify)
{
	idle_body *b = calloc(1, sizeof(*b));
	idle = calloc(1, sizeof(*idle));
	if (!b || !idle)
		return NULL;
	idle->n = ctx->n;
	td_notify_init(&idle->all_parked);
	td_notify_init(&idle->shared);
	b->base.vtable = &idle_body_vtable;
	b->ctx = ctx;
	b->shared_notify = shared_notify;
	if (!shared_notify) {
		/* Like Tokio's Vec<Sender>: one pointer per task. */
		b->senders = malloc((ctx->n ? ctx->n : 1) * sizeof(*b->senders));
		if (!b->senders)
			return NULL;
	}
	ctx->state = b;
	return &b->base;
}

static td_future *idle_tasks_make(struct bench_ctx *ctx)
{
	return idle_make(ctx, false);
}

static td_future *idle_notify_make(struct bench_ctx *ctx)
{
	return idle_make(ctx, true);
}

static void idle_cleanup(struct bench_ctx *ctx)
{
	idle_body *b = ctx->state;
	free(b->senders);
	free(b);
	td_notify_destroy(&idle->all_parked);
	td_notify_destroy(&idle->shared);
	free(idle);
}

const struct bench_workload bench_idle_tasks = {
	.name = "idle_tasks", .make = idle_tasks_make, .cleanup = idle_cleanup};
const struct bench_workload bench_idle_notify = {
	.name = "idle_notify", .make = idle_notify_make,
	.cleanup = idle_cleanup};
