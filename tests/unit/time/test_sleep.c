/* test_sleep.c - sleeps and timeouts on both schedulers (taskdump/time.h),
 * and the timer driver's fire-vs-cancel hand-over (time/driver.h).
 *
 * Timing rule: a timer never completes early (checked against
 * CLOCK_MONOTONIC in nanoseconds, zero tolerance); lateness is only
 * bounded loosely (LATE_MS), because this machine is small and loaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/runtime_impl.h"
#include "taskdump/runtime.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_rt.h"
#include "test_util.h"
#include "test_waker.h"
#include "time/driver.h"
#include "time/wheel.h"

#define LATE_MS 250

#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,       \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Is the runtime's timer wheel empty (no sleep left registered)? */
static bool wheel_empty(td_runtime *rt)
{
	struct td_time_driver *d = &rt->time;
	pthread_mutex_lock(&d->lock);
	bool empty = td_wheel_is_empty(&d->wheel);
	pthread_mutex_unlock(&d->lock);
	return empty;
}

/* Join every handle from a block_on future. */
/* ---- never early ---------------------------------------------------------- */

struct early_stats {
	_Atomic int early;
	_Atomic uint64_t max_late_ns;
	_Atomic int done;
};

typedef struct sleeper {
	td_future base;
	td_async as;
	td_sleep s;
	struct early_stats *st;
	uint32_t rng;
	int k;
	uint64_t want_ns, t0, deadline_ms;
} sleeper;

static void note(struct early_stats *st, uint64_t t0, uint64_t want_ns)
{
	uint64_t t1 = now_ns();
	if (t1 - t0 < want_ns) {
		fprintf(stderr, "EARLY by %" PRIu64 " ns\n", want_ns - (t1 - t0));
		atomic_fetch_add(&st->early, 1);
		return;
	}
	uint64_t late = t1 - t0 - want_ns;
	uint64_t m = atomic_load(&st->max_late_ns);
	while (late > m && !atomic_compare_exchange_weak(&st->max_late_ns, &m,
							 late))
		;
}

static td_poll sleeper_poll(td_future *f, td_context *cx)
{
	sleeper *s = (sleeper *)f;
	TD_BEGIN(&s->as);
	for (s->k = 0; s->k < 4; s->k++) {
		if (s->k & 1) {
			/* td_sleep_until: complete no sooner than the
			 * deadline on the td_now_ms clock, in ns. */
			s->deadline_ms = td_now_ms() + xorshift(&s->rng) % 25;
			s->t0 = 0;
			s->want_ns = s->deadline_ms * 1000000u;
			td_sleep_until_init(&s->s, s->deadline_ms);
		} else {
			uint64_t ms = xorshift(&s->rng) % 25;
			s->want_ns = ms * 1000000u;
			s->t0 = now_ns();
			td_sleep_init(&s->s, ms);
		}
		TD_AWAIT(&s->as, &s->s, cx);
		note(s->st, s->t0, s->want_ns);
	}
	atomic_fetch_add(&s->st->done, 1);
	TD_END(&s->as);
}

static const td_future_vtable sleeper_vtable = {.poll = sleeper_poll};

START_TEST(sleeps_never_early)
{
	td_runtime *rt = test_rt_new(_i);
	enum { N = 400 };
	struct early_stats st = {0};
	td_join_handle *hs = calloc(N, sizeof(*hs));
	for (int i = 0; i < N; i++) {
		sleeper s = {.base = {&sleeper_vtable}, .st = &st,
			     .rng = 0x1234567u * (uint32_t)(i + 1)};
		ck_assert_int_eq(td_spawn(rt, &s, &hs[i]), 0);
	}
	test_block_on_join(rt, hs, N);
	ck_assert_int_eq(atomic_load(&st.done), N);
	ck_assert_int_eq(atomic_load(&st.early), 0);
	fprintf(stderr, "sleeps_never_early[%d]: max lateness %.1f ms\n", _i,
		(double)atomic_load(&st.max_late_ns) / 1e6);
	ck_assert_uint_lt(atomic_load(&st.max_late_ns),
			  (uint64_t)LATE_MS * 1000000u);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
	free(hs);
}
END_TEST

/* A zero sleep and a deadline in the past complete at the first poll. */
typedef struct instant {
	td_future base;
	td_async as;
	td_sleep s;
	int step;
} instant;

static td_poll instant_poll(td_future *f, td_context *cx)
{
	instant *m = (instant *)f;
	td_poll r;
	TD_BEGIN(&m->as);
	td_sleep_init(&m->s, 0);
	/* 0 ms from now rounds up to the next millisecond: may pend, but
	 * must complete. */
	TD_AWAIT(&m->as, &m->s, cx);
	td_sleep_until_init(&m->s, td_now_ms() - 5);
	r = td_future_poll(&m->s.base, cx);
	ck_assert_int_eq(r, TD_READY);
	td_sleep_until_init(&m->s, 0);
	r = td_future_poll(&m->s.base, cx);
	ck_assert_int_eq(r, TD_READY);
	m->step = 1;
	TD_END(&m->as);
}

static const td_future_vtable instant_vtable = {.poll = instant_poll};

START_TEST(past_deadlines_complete_at_once)
{
	td_runtime *rt = test_rt_new(_i);
	instant m = {.base = {&instant_vtable}};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(m.step, 1);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
}
END_TEST

/* ---- deadline order ----------------------------------------------------- */

struct order_rec {
	uint64_t deadline_ms;
	uint64_t done_ms;
	int seq;
};

struct order_shared {
	_Atomic int seq;
	_Atomic int early;
};

typedef struct orderly {
	td_future base;
	td_async as;
	td_sleep s;
	struct order_rec *rec;
	struct order_shared *sh;
} orderly;

static td_poll orderly_poll(td_future *f, td_context *cx)
{
	orderly *o = (orderly *)f;
	TD_BEGIN(&o->as);
	td_sleep_until_init(&o->s, o->rec->deadline_ms);
	TD_AWAIT(&o->as, &o->s, cx);
	o->rec->done_ms = td_now_ms();
	if (now_ns() < o->rec->deadline_ms * 1000000u)
		atomic_fetch_add(&o->sh->early, 1);
	o->rec->seq = atomic_fetch_add(&o->sh->seq, 1);
	TD_END(&o->as);
}

static const td_future_vtable orderly_vtable = {.poll = orderly_poll};

START_TEST(sleeps_complete_in_deadline_order)
{
	td_runtime *rt = test_rt_new(_i);
	enum { N = 500 };
	struct order_rec *rec = calloc(N, sizeof(*rec));
	struct order_shared sh = {0};
	td_join_handle *hs = calloc(N, sizeof(*hs));
	uint32_t rng = 99;
	uint64_t base = td_now_ms() + 30;
	/* Deadlines spread over ~600 ms (several per millisecond, and on
	 * level 0 and level 1 of the wheel), spawned in random order. */
	for (int i = 0; i < N; i++)
		rec[i].deadline_ms = base + xorshift(&rng) % 600;
	for (int i = 0; i < N; i++) {
		orderly o = {.base = {&orderly_vtable}, .rec = &rec[i],
			     .sh = &sh};
		ck_assert_int_eq(td_spawn(rt, &o, &hs[i]), 0);
	}
	test_block_on_join(rt, hs, N);
	ck_assert_int_eq(atomic_load(&sh.early), 0);
	int inversions = 0;
	uint64_t worst = 0;
	for (int i = 0; i < N; i++) {
		ck_assert_uint_ge(rec[i].done_ms, rec[i].deadline_ms);
		ck_assert_uint_lt(rec[i].done_ms - rec[i].deadline_ms, LATE_MS);
		for (int j = 0; j < N; j++) {
			if (rec[i].deadline_ms >= rec[j].deadline_ms)
				continue;
			/* i is due strictly before j. */
			if (rec[i].seq > rec[j].seq) {
				inversions++;
				/* j completed first: it cannot have done so
				 * before i was due, and on the multi-thread
				 * runtime i may only trail by scheduling
				 * noise. */
				REQUIRE(rec[j].done_ms >= rec[i].deadline_ms);
				uint64_t lag = rec[i].done_ms - rec[j].done_ms;
				if (lag > worst)
					worst = lag;
			}
		}
	}
	fprintf(stderr,
		"deadline_order[%d]: %d inversions (worst lag %" PRIu64 " ms)\n",
		_i, inversions, worst);
	if (test_flavors[_i].flavor == TD_FLAVOR_CURRENT_THREAD) {
		/* One thread fires the timers in deadline order and runs the
		 * woken tasks in FIFO order: no inversion at all. */
		ck_assert_int_eq(inversions, 0);
	} else {
		ck_assert_uint_lt(worst, LATE_MS);
	}
	td_runtime_free(rt);
	free(rec);
	free(hs);
}
END_TEST

/* ---- timeouts --------------------------------------------------------------- */

typedef struct counted {
	td_future base;
	atomic_int *drops;
	atomic_int *polls;
	bool ready; /* complete at the first poll */
} counted;

static td_poll counted_poll(td_future *f, td_context *cx)
{
	counted *c = (counted *)f;
	(void)cx;
	if (c->polls)
		atomic_fetch_add(c->polls, 1);
	return c->ready ? TD_READY : TD_PENDING;
}

static void counted_drop(td_future *f)
{
	counted *c = (counted *)f;
	atomic_fetch_add(c->drops, 1);
}

static const td_future_vtable counted_vtable = {.poll = counted_poll,
						.drop = counted_drop};

typedef struct tmo_main {
	td_future base;
	td_async as;
	counted inner;
	td_sleep nap; /* an inner future that is ready after a while */
	td_timeout t;
	int mode;
	uint64_t t0, took_ns;
	bool timed_out;
} tmo_main;

static td_poll tmo_main_poll(td_future *f, td_context *cx)
{
	tmo_main *m = (tmo_main *)f;
	TD_BEGIN(&m->as);
	m->t0 = now_ns();
	if (m->mode == 2) {
		td_sleep_init(&m->nap, 10);
		td_timeout_init(&m->t, &m->nap.base, 3000);
	} else {
		td_timeout_init(&m->t, &m->inner.base, 30);
	}
	TD_AWAIT(&m->as, &m->t, cx);
	m->took_ns = now_ns() - m->t0;
	m->timed_out = m->t.timed_out;
	TD_END(&m->as);
}

static void tmo_main_drop(td_future *f)
{
	td_async_drop(&((tmo_main *)f)->as);
}

static const td_future_vtable tmo_main_vtable = {.poll = tmo_main_poll,
						 .drop = tmo_main_drop};

START_TEST(timeout_of_never_ready)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_int drops = 0, polls = 0;
	tmo_main m = {.base = {&tmo_main_vtable}, .mode = 0};
	m.inner = (counted){{&counted_vtable}, &drops, &polls, false};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert(m.timed_out);
	ck_assert_uint_ge(m.took_ns, 30 * 1000000u);
	ck_assert_uint_lt(m.took_ns, (30 + LATE_MS) * 1000000u);
	ck_assert_int_eq(atomic_load(&drops), 1); /* the inner, once */
	ck_assert_int_ge(atomic_load(&polls), 1);
	/* Dropping the READY timeout drops nothing more. */
	td_future_drop(&m.t.base);
	ck_assert_int_eq(atomic_load(&drops), 1);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&drops), 1);
}
END_TEST

START_TEST(timeout_of_ready_inner)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_int drops = 0;
	tmo_main m = {.base = {&tmo_main_vtable}, .mode = 1};
	m.inner = (counted){{&counted_vtable}, &drops, NULL, true};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert(!m.timed_out);
	ck_assert_uint_lt(m.took_ns, 30 * 1000000u);
	ck_assert_int_eq(atomic_load(&drops), 0);
	/* The timeout's own timer went with it. */
	ck_assert(wheel_empty(rt));

	/* An inner future that becomes ready after 10 ms under a 3 s
	 * limit: returned as soon as it is ready. */
	tmo_main m2 = {.base = {&tmo_main_vtable}, .mode = 2};
	ck_assert_int_eq(td_runtime_block_on(rt, &m2.base, NULL), 0);
	ck_assert(!m2.timed_out);
	ck_assert_uint_ge(m2.took_ns, 10 * 1000000u);
	ck_assert_uint_lt(m2.took_ns, (10 + LATE_MS) * 1000000u);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
}
END_TEST

/* A task awaiting a long timeout is aborted: the timeout's drop drops the
 * inner future exactly once and unregisters its timer. */
typedef struct tmo_task {
	td_future base;
	td_async as;
	counted inner;
	td_timeout t;
	atomic_int *outer_drops;
} tmo_task;

static td_poll tmo_task_poll(td_future *f, td_context *cx)
{
	tmo_task *m = (tmo_task *)f;
	TD_BEGIN(&m->as);
	td_timeout_init(&m->t, &m->inner.base, 10000);
	TD_AWAIT(&m->as, &m->t, cx);
	TD_END(&m->as);
}

static void tmo_task_drop(td_future *f)
{
	tmo_task *m = (tmo_task *)f;
	atomic_fetch_add(m->outer_drops, 1);
	td_async_drop(&m->as);
}

static const td_future_vtable tmo_task_vtable = {.poll = tmo_task_poll,
						 .drop = tmo_task_drop};

typedef struct abort_main {
	td_future base;
	td_async as;
	td_join_handle *hs;
	size_t n, i;
	atomic_int *polls;
	td_sleep nap;
	td_join j;
	int cancelled;
} abort_main;

static td_poll abort_main_poll(td_future *f, td_context *cx)
{
	abort_main *m = (abort_main *)f;
	TD_BEGIN(&m->as);
	/* Wait (by polling) until every task has been polled once. */
	while ((size_t)atomic_load(m->polls) < m->n) {
		td_sleep_init(&m->nap, 1);
		TD_AWAIT(&m->as, &m->nap, cx);
	}
	for (m->i = 0; m->i < m->n; m->i++)
		td_join_handle_abort(&m->hs[m->i]);
	for (m->i = 0; m->i < m->n; m->i++) {
		td_join_init(&m->j, &m->hs[m->i]);
		TD_AWAIT(&m->as, &m->j, cx);
		if (m->j.error == -ECANCELED)
			m->cancelled++;
	}
	TD_END(&m->as);
}

static const td_future_vtable abort_main_vtable = {.poll = abort_main_poll};

START_TEST(timeout_dropped_while_pending)
{
	td_runtime *rt = test_rt_new(_i);
	enum { N = 300 };
	atomic_int drops = 0, outer = 0, polls = 0;
	td_join_handle hs[N];
	for (int i = 0; i < N; i++) {
		tmo_task t = {.base = {&tmo_task_vtable}, .outer_drops = &outer};
		t.inner = (counted){{&counted_vtable}, &drops, &polls, false};
		ck_assert_int_eq(td_spawn(rt, &t, &hs[i]), 0);
	}
	abort_main m = {.base = {&abort_main_vtable}, .hs = hs, .n = N,
			.polls = &polls};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(m.cancelled, N);
	ck_assert_int_eq(atomic_load(&outer), N);
	ck_assert_int_eq(atomic_load(&drops), N);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&drops), N);
}
END_TEST

/* ---- td_sleep_reset ------------------------------------------------------- */

typedef struct reset_main {
	td_future base;
	td_async as;
	td_sleep s, nap;
	uint64_t t0;
	uint64_t took[4];
	td_poll first;
} reset_main;

static td_poll reset_main_poll(td_future *f, td_context *cx)
{
	reset_main *m = (reset_main *)f;
	TD_BEGIN(&m->as);
	/* 1. Earlier: a pending 10 s sleep moved to 30 ms from now. */
	m->t0 = now_ns();
	td_sleep_init(&m->s, 10000);
	ck_assert_int_eq(td_future_poll(&m->s.base, cx), TD_PENDING);
	td_sleep_reset(&m->s, td_now_ms() + 31);
	TD_AWAIT(&m->as, &m->s, cx);
	m->took[0] = now_ns() - m->t0;

	/* 2. Later: a pending 10 ms sleep moved to 80 ms from now; the old
	 * deadline must not complete it. */
	m->t0 = now_ns();
	td_sleep_init(&m->s, 10);
	ck_assert_int_eq(td_future_poll(&m->s.base, cx), TD_PENDING);
	td_sleep_reset(&m->s, td_now_ms() + 81);
	TD_AWAIT(&m->as, &m->s, cx);
	m->took[1] = now_ns() - m->t0;

	/* 3. Before the first poll. */
	m->t0 = now_ns();
	td_sleep_init(&m->s, 5);
	td_sleep_reset(&m->s, td_now_ms() + 41);
	TD_AWAIT(&m->as, &m->s, cx);
	m->took[2] = now_ns() - m->t0;

	/* 4. After completion: it sleeps again. */
	m->t0 = now_ns();
	td_sleep_reset(&m->s, td_now_ms() + 21);
	TD_AWAIT(&m->as, &m->s, cx);
	m->took[3] = now_ns() - m->t0;

	/* 5. Into the past: ready at the next poll. */
	td_sleep_init(&m->s, 10000);
	ck_assert_int_eq(td_future_poll(&m->s.base, cx), TD_PENDING);
	td_sleep_reset(&m->s, td_now_ms() - 1);
	m->first = td_future_poll(&m->s.base, cx);
	TD_END(&m->as);
}

static const td_future_vtable reset_main_vtable = {.poll = reset_main_poll};

START_TEST(sleep_reset)
{
	td_runtime *rt = test_rt_new(_i);
	reset_main m = {.base = {&reset_main_vtable}};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	static const uint64_t want[4] = {30, 80, 40, 20};
	for (int k = 0; k < 4; k++) {
		ck_assert_uint_ge(m.took[k], want[k] * 1000000u);
		ck_assert_uint_lt(m.took[k], (want[k] + LATE_MS) * 1000000u);
	}
	ck_assert_int_eq(m.first, TD_READY);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
}
END_TEST

/* ---- dropping a pending sleep unregisters it -------------------------- */

typedef struct drop_main {
	td_future base;
	td_async as;
	test_waker tw;
	td_sleep s[64];
	td_sleep nap;
	int round;
	int held, woke, held_total;
} drop_main;

static td_poll drop_main_poll(td_future *f, td_context *cx)
{
	drop_main *m = (drop_main *)f;
	TD_BEGIN(&m->as);
	for (m->round = 0; m->round < 4; m->round++) {
		/* Sleeps due in ~100 ms, polled by hand with a counting
		 * waker, then dropped while pending. */
		for (int i = 0; i < 64; i++) {
			td_waker w = test_waker_make(&m->tw);
			td_context hand = {.waker = &w};
			td_sleep_init(&m->s[i], 100 + (unsigned)i % 5);
			/* Polled twice: still one registration.  (READY only
			 * if this thread stalled for 100 ms: then it holds
			 * nothing.) */
			if (td_future_poll(&m->s[i].base, &hand) == TD_PENDING)
				td_future_poll(&m->s[i].base, &hand);
			td_waker_drop(&w);
		}
		/* One waker clone per pending sleep is held by the driver
		 * (fewer if this thread was descheduled past a deadline on
		 * a busy machine: those woke once and gave theirs back). */
		m->held = atomic_load(&m->tw.refs);
		m->woke = atomic_load(&m->tw.wakes);
		ck_assert_int_le(m->held, 64);
		m->held_total += m->held;
		for (int i = 0; i < 64; i++)
			td_future_drop(&m->s[i].base);
		/* Every clone still held was given back at once... */
		ck_assert_int_eq(atomic_load(&m->tw.refs), 0);
		/* ...and after the deadlines passed, nothing else woke. */
		td_sleep_init(&m->nap, 120);
		TD_AWAIT(&m->as, &m->nap, cx);
		ck_assert_int_eq(atomic_load(&m->tw.wakes), m->woke);
	}
	TD_END(&m->as);
}

static const td_future_vtable drop_main_vtable = {.poll = drop_main_poll};

START_TEST(dropped_sleep_unregisters)
{
	td_runtime *rt = test_rt_new(_i);
	drop_main *m = calloc(1, sizeof(*m));
	m->base.vtable = &drop_main_vtable;
	test_waker_init(&m->tw);
	ck_assert_int_eq(td_runtime_block_on(rt, &m->base, NULL), 0);
	ck_assert_int_eq(atomic_load(&m->tw.refs), 0);
	/* Most were dropped while registered, or the test proved nothing. */
	ck_assert_int_gt(m->held_total, 4 * 64 / 2);
	ck_assert(wheel_empty(rt));
	td_runtime_free(rt);
	free(m);
}
END_TEST

/* ---- far-future deadlines --------------------------------------------- */

typedef struct far_task {
	td_future base;
	td_sleep s;
	int mode;
	atomic_int *polls, *drops;
	bool inited;
} far_task;

static td_poll far_poll(td_future *f, td_context *cx)
{
	far_task *t = (far_task *)f;
	if (!t->inited) {
		t->inited = true;
		switch (t->mode) {
		case 0: /* "forever" by duration: must not wrap around */
			td_sleep_init(&t->s, UINT64_MAX);
			break;
		case 1: /* "forever" by deadline */
			td_sleep_until_init(&t->s, UINT64_MAX);
			break;
		case 2: /* ~35 years: beyond the wheel's 64^6 ms */
			td_sleep_init(&t->s, (uint64_t)1 << 40);
			break;
		default: /* just past the wheel's span (~2.2 years) */
			td_sleep_init(&t->s, ((uint64_t)1 << 36) + 1000);
			break;
		}
	}
	atomic_fetch_add(t->polls, 1);
	return td_future_poll(&t->s.base, cx);
}

static void far_drop(td_future *f)
{
	far_task *t = (far_task *)f;
	atomic_fetch_add(t->drops, 1);
	td_future_drop(&t->s.base);
}

static const td_future_vtable far_vtable = {.poll = far_poll,
					    .drop = far_drop};

typedef struct far_main {
	td_future base;
	td_async as;
	td_sleep nap;
	atomic_int *polls;
	int n, rounds;
	uint64_t t0;
} far_main;

static td_poll far_main_poll(td_future *f, td_context *cx)
{
	far_main *m = (far_main *)f;
	TD_BEGIN(&m->as);
	while (atomic_load(m->polls) < m->n) {
		td_sleep_init(&m->nap, 1);
		TD_AWAIT(&m->as, &m->nap, cx);
	}
	/* The far timers are registered: ordinary sleeps still work (a
	 * wheel spinning on a far timer would hang the driver here). */
	for (m->rounds = 0; m->rounds < 5; m->rounds++) {
		m->t0 = now_ns();
		td_sleep_init(&m->nap, 10);
		TD_AWAIT(&m->as, &m->nap, cx);
		ck_assert_uint_ge(now_ns() - m->t0, 10 * 1000000u);
	}
	TD_END(&m->as);
}

static const td_future_vtable far_main_vtable = {.poll = far_main_poll};

START_TEST(far_future_sleeps)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_int polls = 0, drops = 0;
	td_join_handle hs[8];
	/* Let the wheel's clock leave 0 first (the spin needed elapsed to
	 * be off a 2^30 boundary, i.e. any time after start-up). */
	struct timespec ts = {0, 3000000};
	nanosleep(&ts, NULL);
	for (int i = 0; i < 8; i++) {
		far_task t = {.base = {&far_vtable}, .mode = i % 4,
			      .polls = &polls, .drops = &drops};
		ck_assert_int_eq(td_spawn(rt, &t, &hs[i]), 0);
	}
	far_main m = {.base = {&far_main_vtable}, .polls = &polls, .n = 8};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	for (int i = 0; i < 8; i++) {
		if (td_join_handle_is_finished(&hs[i]))
			fprintf(stderr, "far sleep mode %d completed early\n",
				i % 4);
		ck_assert(!td_join_handle_is_finished(&hs[i]));
		td_join_handle_detach(&hs[i]);
	}
	ck_assert(!wheel_empty(rt));
	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&drops), 8);
}
END_TEST

/* ---- a block_on future dropped after td_runtime_free ------------------ */

/* td_runtime_block_on gives an unfinished future back with -ESHUTDOWN when
 * another thread frees the runtime; its owner drops it afterwards.  Its
 * timer must not point into the destroyed driver by then (dropping it
 * used to lock the destroyed driver mutex: TSan "use of an invalid
 * mutex"). */
typedef struct long_nap {
	td_future base;
	td_async as;
	td_sleep s;
	atomic_int *polled;
} long_nap;

static td_poll long_nap_poll(td_future *f, td_context *cx)
{
	long_nap *n = (long_nap *)f;
	TD_BEGIN(&n->as);
	td_sleep_init(&n->s, 60000);
	atomic_store(n->polled, 1);
	TD_AWAIT(&n->as, &n->s, cx);
	TD_END(&n->as);
}

static void long_nap_drop(td_future *f)
{
	td_async_drop(&((long_nap *)f)->as);
}

static const td_future_vtable long_nap_vtable = {.poll = long_nap_poll,
						 .drop = long_nap_drop};

struct nap_thread {
	td_runtime *rt;
	long_nap *fut;
	int result;
};

static void *nap_thread_main(void *p)
{
	struct nap_thread *a = p;
	a->result = td_runtime_block_on(a->rt, &a->fut->base, NULL);
	return NULL;
}

START_TEST(block_on_future_dropped_after_free)
{
	/* Current-thread only: a multi-thread runtime never wakes the
	 * block_on thread at td_runtime_free (reported; see
	 * tests/unit/sched/test_stress.c mt_free_wakes_block_on). */
	td_runtime *rt = test_rt_new(0);
	atomic_int polled = 0;
	long_nap *fut = calloc(1, sizeof(*fut));
	fut->base.vtable = &long_nap_vtable;
	fut->polled = &polled;
	/* An extra runtime reference sidesteps another reported race
	 * (leave_driving vs. the last reference: ct_free_races_leave_driving
	 * in test_stress.c), so that this test sees only the timer. */
	td_runtime_ref(rt);
	struct nap_thread a = {rt, fut, 0};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, nap_thread_main, &a), 0);
	/* Until the sleep is registered. */
	while (!atomic_load(&polled) ||
	       !__atomic_load_n(&fut->s.entry.driver, __ATOMIC_ACQUIRE))
		sched_yield();
	td_runtime_free(rt);
	pthread_join(th, NULL);
	ck_assert_int_eq(a.result, -ESHUTDOWN);
	/* Still registered: the timer holds a runtime reference, so the
	 * driver (and its lock) outlive td_runtime_free until the owner
	 * drops the future... */
	ck_assert_ptr_nonnull(fut->s.entry.driver);
	td_future_drop(&fut->base);
	/* ...which unregisters it. */
	ck_assert_ptr_null(fut->s.entry.driver);
	ck_assert_ptr_null(fut->s.entry.waker.vtable);
	td_runtime_unref(rt); /* the last reference: the memory goes */
	free(fut);
}
END_TEST

/* ---- the driver: fire vs. cancel ------------------------------------- */

/*
 * td_time_driver_process() fires an entry under the driver lock and, after
 * unlinking it, still writes the entry (waker slot, `fired`).  A future
 * that is dropped meanwhile calls td_time_entry_cancel(), which returns at
 * once when it sees the entry unlinked - and then the future's memory may
 * be reused (td_sleep_reset, a re-initialised sleep) or freed.  The
 * driver's late writes must not land on it.  One thread fires, another
 * registers and cancels at random moments around the deadline and then
 * reuses the entry; a write after cancel() shows up as a non-zero field
 * (and as a data race under TSan).
 */
struct fire_race {
	struct td_time_driver d;
	_Atomic int stop;
	_Atomic long processed;
};

static void *fire_loop(void *p)
{
	struct fire_race *r = p;
	while (!atomic_load(&r->stop)) {
		atomic_fetch_add(&r->processed,
				 (long)td_time_driver_process(&r->d));
		sched_yield();
	}
	return NULL;
}

START_TEST(driver_fire_vs_cancel)
{
	struct fire_race *r = calloc(1, sizeof(*r));
	td_time_driver_init(&r->d, NULL, NULL);
	test_waker tw;
	test_waker_init(&tw);
	pthread_t th[2];
	pthread_create(&th[0], NULL, fire_loop, r);
	pthread_create(&th[1], NULL, fire_loop, r); /* two firers */

	enum { ENTRIES = 64 };
	td_timer_entry *ents = calloc(ENTRIES, sizeof(*ents));
	uint32_t rng = 7;
	long clobbered = 0, rounds = 0;
	uint64_t t_end = test_now_ms() + 1500;
	while (test_now_ms() < t_end) {
		rounds++;
		td_waker w = test_waker_make(&tw);
		uint64_t due = td_now_ms() + 1;
		for (int i = 0; i < ENTRIES; i++) {
			memset(&ents[i], 0, sizeof(ents[i]));
			td_time_driver_register(&r->d, &ents[i], due, &w);
		}
		td_waker_drop(&w);
		/* Cancel each at a random moment around its deadline (most
		 * of them racing the firing thread), then reuse it at once
		 * as a fresh, unregistered entry. */
		for (int i = 0; i < ENTRIES; i++) {
			uint32_t spin = xorshift(&rng) % 4000;
			while (td_now_ms() < due && spin-- > 0)
				sched_yield();
			td_time_entry_cancel(&ents[i]);
			memset(&ents[i], 0, sizeof(ents[i]));
		}
		/* Give a late write time to land, then look. */
		for (int k = 0; k < 50; k++)
			sched_yield();
		for (int i = 0; i < ENTRIES; i++) {
			if (__atomic_load_n(&ents[i].fired, __ATOMIC_RELAXED) ||
			    ents[i].waker.vtable || ents[i].driver)
				clobbered++;
		}
	}
	atomic_store(&r->stop, 1);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	fprintf(stderr, "driver_fire_vs_cancel: %ld rounds, %ld fired, "
			"%ld clobbered\n",
		rounds, atomic_load(&r->processed), clobbered);
	ck_assert_int_eq(clobbered, 0);
	/* Every registration's waker was either woken once or dropped. */
	ck_assert_int_eq(atomic_load(&tw.refs), 0);
	ck_assert_int_le(atomic_load(&tw.wakes), rounds * ENTRIES);
	ck_assert(td_wheel_is_empty(&r->d.wheel));
	td_time_driver_destroy(&r->d);
	free(ents);
	free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sleep");
	TCase *tc = tcase_create("runtime");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, sleeps_never_early, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, past_deadlines_complete_at_once, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, sleeps_complete_in_deadline_order, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, timeout_of_never_ready, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, timeout_of_ready_inner, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, timeout_dropped_while_pending, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, sleep_reset, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, dropped_sleep_unregisters, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, far_future_sleeps, 0, TEST_NFLAVORS);
	tcase_add_test(tc, block_on_future_dropped_after_free);
	suite_add_tcase(s, tc);

	TCase *td = tcase_create("driver");
	tcase_set_timeout(td, 60);
	tcase_add_test(td, driver_fire_vs_cancel);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
