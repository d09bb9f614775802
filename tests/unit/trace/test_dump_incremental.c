/* test_dump_incremental.c - incremental dumps hold nobody, and say nothing
 * false about tasks seen at different moments.
 *
 * test_hold: 200 000 idle tasks and a few that keep yielding (so the
 *   workers keep popping tasks while the dump traces them); 100
 *   incremental dumps from a thread outside the runtime.  Through the
 *   runtime's own counters (td_dump_worker.held_ms), the longest any
 *   worker was held in any dump must stay within 10 slices (1 ms each).
 *   The figures are printed; the benchmark has the real ones.
 *
 * test_no_false_deadlock: tasks that keep taking two of eight mutexes in
 *   a global order (never a deadlock) and pass them around under load.
 *   Tasks traced at different moments can look like a cycle (one waits
 *   for a lock its holder has since let go); 100 incremental dumps must
 *   report no deadlock and no lost wake-up: what is not confirmed is
 *   dropped (td_dump.unconfirmed_deadlocks counts it).
 *
 * Each on both flavors.  TD_INCREMENTAL_DUMPS overrides the dump count
 * and TD_INCREMENTAL_HOLD_MS the bound (sanitizer builds, whose tracing
 * polls are ten times slower, use fewer dumps and 50 ms: tests/meson.build).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "dump_fixtures.h"
#include "taskdump/combinators.h"
#include "taskdump/dump.h"
#include "taskdump/mutex.h"
#include "taskdump/notify.h"
#include "taskdump/runtime.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

static int dump_count(void)
{
	const char *v = getenv("TD_INCREMENTAL_DUMPS");
	int n = v ? atoi(v) : 0;
	if (n > 0)
		return n;
	return FX_TSAN ? 10 : 100;
}

/* ---- tasks ------------------------------------------------------------- */

/* Waits on a notify nobody signals (until the test ends). */
typedef struct idler {
	td_future base;
	td_async as;
	td_notified wait;
	td_notify *stop;
} idler;

static td_poll idler_poll(td_future *f, td_context *cx)
{
	idler *t = (idler *)f;
	TD_BEGIN(&t->as);
	td_notified_init(&t->wait, t->stop);
	TD_AWAIT(&t->as, &t->wait, cx);
	TD_END(&t->as);
}

static void idler_drop(td_future *f)
{
	td_async_drop(&((idler *)f)->as);
}

static const td_future_vtable idler_vt = {.poll = idler_poll,
					  .drop = idler_drop};

/* Yields until told to stop. */
typedef struct yielder {
	td_future base;
	td_async as;
	td_yield y;
	atomic_int *stop;
} yielder;

static td_poll yielder_poll(td_future *f, td_context *cx)
{
	yielder *t = (yielder *)f;
	TD_BEGIN(&t->as);
	while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
		td_yield_init(&t->y);
		TD_AWAIT(&t->as, &t->y, cx);
	}
	TD_END(&t->as);
}

static void yielder_drop(td_future *f)
{
	td_async_drop(&((yielder *)f)->as);
}

static const td_future_vtable yielder_vt = {.poll = yielder_poll,
					    .drop = yielder_drop};

/* Takes mutexes lo and hi (lo < hi: one global order), yields holding
 * both, lets them go, picks the next pair; until told to stop. */
#define NMUTEX 8

struct locks {
	td_mutex m[NMUTEX];
	atomic_int stop;
	atomic_int rounds;
	atomic_int finished;
};

typedef struct passer {
	td_future base;
	td_async as;
	struct locks *l;
	unsigned seed, lo, hi;
	td_mutex_lock lk;
	td_yield y;
} passer;

static td_poll passer_poll(td_future *f, td_context *cx)
{
	passer *t = (passer *)f;
	TD_BEGIN(&t->as);
	while (!atomic_load_explicit(&t->l->stop, memory_order_relaxed)) {
		t->seed = t->seed * 1103515245u + 12345u;
		t->lo = (t->seed >> 16) % NMUTEX;
		t->hi = (t->seed >> 8) % NMUTEX;
		if (t->lo == t->hi)
			t->hi = (t->hi + 1) % NMUTEX;
		if (t->lo > t->hi) {
			unsigned x = t->lo;
			t->lo = t->hi;
			t->hi = x;
		}
		td_mutex_lock_init(&t->lk, &t->l->m[t->lo]);
		TD_AWAIT(&t->as, &t->lk, cx);
		td_mutex_lock_init(&t->lk, &t->l->m[t->hi]);
		TD_AWAIT(&t->as, &t->lk, cx);
		td_yield_init(&t->y);
		TD_AWAIT(&t->as, &t->y, cx);
		td_mutex_unlock(&t->l->m[t->hi]);
		td_mutex_unlock(&t->l->m[t->lo]);
		atomic_fetch_add_explicit(&t->l->rounds, 1,
					  memory_order_relaxed);
	}
	atomic_fetch_add(&t->l->finished, 1);
	TD_END(&t->as);
}

static void passer_drop(td_future *f)
{
	td_async_drop(&((passer *)f)->as);
}

static const td_future_vtable passer_vt = {.poll = passer_poll,
					   .drop = passer_drop};

/* ---- holds --------------------------------------------------------------- */

#define NIDLE 200000
#define NYIELD 4

START_TEST(test_hold)
{
	td_runtime *rt = fx_runtime_new(_i, "hold");
	fx_driver *drv = fx_driver_start(rt);
	td_notify stop_idle;
	atomic_int stop_yield = 0;
	td_notify_init(&stop_idle);
	for (int k = 0; k < NIDLE; k++) {
		idler t = {.base = {&idler_vt}, .stop = &stop_idle};
		ck_assert_int_eq(td_spawn(rt, &t, NULL), 0);
	}
	for (int k = 0; k < NYIELD; k++) {
		yielder t = {.base = {&yielder_vt}, .stop = &stop_yield};
		ck_assert_int_eq(td_spawn(rt, &t, NULL), 0);
	}

	td_dump_options o = {.no_symbolize = true, .timeout_ms = 5000};
	int n = dump_count();
	double worst = 0, worst_pause = 0, span_sum = 0, total_sum = 0;
	size_t traced_min = SIZE_MAX;
	for (int k = 0; k < n; k++) {
		td_dump *d = NULL;
		ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
		ck_assert_str_eq(d->mode, "incremental");
		const td_dump_runtime *r = fx_only_runtime(d);
		ck_assert_ptr_null(r->error);
		ck_assert_uint_ge(r->ntasks, NIDLE);
		for (size_t w = 0; w < r->nworkers; w++) {
			/* Nobody stops in an incremental dump. */
			ck_assert_str_ne(r->workers[w].state, "paused");
			if (r->workers[w].held_ms > worst)
				worst = r->workers[w].held_ms;
		}
		if (d->pause_ms > worst_pause)
			worst_pause = d->pause_ms;
		if (r->traced < traced_min)
			traced_min = r->traced;
		if (getenv("TD_INCREMENTAL_VERBOSE"))
			printf("dump %d: held %.3f/%.3f ms span %.1f total %.1f "
			       "capture %.1f stop %.1f assemble %.1f\n", k,
			       r->workers[0].held_ms,
			       r->nworkers > 1 ? r->workers[1].held_ms : 0.0,
			       d->span_ms, d->total_ms, d->capture_ms,
			       d->stop_ms, d->assemble_ms);
		span_sum += d->span_ms;
		total_sum += d->total_ms;
		td_dump_free(d);
	}
	printf("hold %s: %d dumps of %d tasks: longest hold %.3f ms "
	       "(pause_ms %.3f), span %.1f ms and total %.1f ms on average, "
	       "traced at least %zu\n",
	       fx_flavors[_i].flavor_name, n, NIDLE + NYIELD, worst,
	       worst_pause, span_sum / n, total_sum / n, traced_min);
	const char *bound_env = getenv("TD_INCREMENTAL_HOLD_MS");
	double bound = bound_env ? atof(bound_env)
				 : 10.0 * TD_DUMP_DEFAULT_SLICE_US / 1000.0;
	ck_assert_msg(worst <= bound,
		      "a worker was held %.3f ms (slice %d us, bound %.1f ms)",
		      worst, TD_DUMP_DEFAULT_SLICE_US, bound);
	ck_assert(worst_pause <= worst + 1e-9);
	/* Everything idle was traced (the yielders may be running). */
	ck_assert_uint_ge(traced_min, NIDLE);

	atomic_store(&stop_yield, 1);
	td_notify_waiters(&stop_idle);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_notify_destroy(&stop_idle);
}
END_TEST

/* ---- no false deadlock ------------------------------------------------- */

#define NPASSERS 16

START_TEST(test_no_false_deadlock)
{
	td_runtime *rt = fx_runtime_new(_i, "passers");
	fx_driver *drv = fx_driver_start(rt);
	struct locks *l = calloc(1, sizeof(*l));
	ck_assert_ptr_nonnull(l);
	for (int k = 0; k < NMUTEX; k++)
		td_mutex_init(&l->m[k]);
	td_join_handle h[NPASSERS];
	for (int k = 0; k < NPASSERS; k++) {
		passer t = {.base = {&passer_vt}, .l = l,
			    .seed = 7919u * (unsigned)(k + 1)};
		ck_assert_int_eq(td_spawn(rt, &t, &h[k]), 0);
	}
	ck_assert(fx_wait_count(&l->rounds, 1000, 20000));

	td_dump_options o = {.no_symbolize = true};
	int n = dump_count();
	size_t unconfirmed = 0, waiting_on_mutex = 0;
	for (int k = 0; k < n; k++) {
		td_dump *d = NULL;
		ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
		fx_check_consistent(d, "passers");
		if (d->ndeadlocks)
			fx_print(d, "false deadlock");
		ck_assert_msg(d->ndeadlocks == 0,
			      "dump %d: %zu deadlocks among tasks that only "
			      "lock in order", k, d->ndeadlocks);
		for (size_t w = 0; w < d->ntask_warnings; w++)
			ck_assert_msg(d->task_warnings[w].kind !=
					      TD_WARN_LOST_WAKEUP,
				      "dump %d: a lost wake-up: %s", k,
				      d->task_warnings[w].evidence);
		unconfirmed += d->unconfirmed_deadlocks +
			       d->unconfirmed_lost_wakeups;
		const td_dump_runtime *r = fx_only_runtime(d);
		for (size_t t = 0; t < r->ntasks; t++)
			for (size_t i = 0; i < r->tasks[t].ntraces; i++)
				if (r->tasks[t].traces[i].wait.kind ==
				    TD_WAIT_MUTEX)
					waiting_on_mutex++;
		td_dump_free(d);
	}
	int rounds = atomic_load(&l->rounds);
	printf("passers %s: %d dumps, %zu waits on a mutex seen, %zu "
	       "findings dropped unconfirmed, %d rounds of locking\n",
	       fx_flavors[_i].flavor_name, n, waiting_on_mutex, unconfirmed,
	       rounds);
	/* The dumps saw the contention they were meant to. */
	ck_assert_uint_gt(waiting_on_mutex, 0);

	atomic_store(&l->stop, 1);
	ck_assert(fx_wait_count(&l->finished, NPASSERS, 20000));
	for (int k = 0; k < NPASSERS; k++)
		td_join_handle_detach(&h[k]);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	for (int k = 0; k < NMUTEX; k++)
		td_mutex_destroy(&l->m[k]);
	free(l);
}
END_TEST

static Suite *incremental_suite(void)
{
	Suite *s = suite_create("dump_incremental");
	TCase *tc = tcase_create("incremental");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_hold, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_no_false_deadlock, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(incremental_suite());
}
