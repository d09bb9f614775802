/* test_mutex.c - the async FIFO mutex (taskdump/mutex.h). */
#include <pthread.h>
#include <stdlib.h>

#include "taskdump/mutex.h"
#include "sync_test.h"

static struct td_task fake_task;

START_TEST(test_basic)
{
	td_mutex m;
	td_mutex_lock lk;
	test_waker tw;

	td_mutex_init(&m);
	test_waker_init(&tw);
	ck_assert(!td_mutex_is_locked(&m));
	td_mutex_lock_init(&lk, &m);
	ck_assert_int_eq(poll_tw(&lk, &tw), TD_READY);
	ck_assert(td_mutex_is_locked(&m));
	ck_assert_uint_eq(td_mutex_holder_id(&m), 0);
	ck_assert(!td_mutex_try_lock(&m));
	td_future_drop(&lk.base); /* READY: no-op, the lock stays held */
	ck_assert(td_mutex_is_locked(&m));
	td_mutex_unlock(&m);
	ck_assert(!td_mutex_is_locked(&m));
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_unlock(&m);
	ck_assert_int_eq(refs(&tw), 0);
	ck_assert_int_eq(wakes(&tw), 0);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_static_initializer)
{
	static td_mutex m = TD_MUTEX_INITIALIZER;
	ck_assert(td_mutex_try_lock(&m));
	ck_assert(!td_mutex_try_lock(&m));
	td_mutex_unlock(&m);
}
END_TEST

START_TEST(test_fifo_handoff)
{
	enum { N = 4 };
	td_mutex m;
	td_mutex_lock lk[N];
	test_waker tw[N];

	td_mutex_init(&m);
	ck_assert(td_mutex_try_lock(&m));
	for (int i = 0; i < N; i++) {
		test_waker_init(&tw[i]);
		td_mutex_lock_init(&lk[i], &m);
		ck_assert_int_eq(poll_tw(&lk[i], &tw[i]), TD_PENDING);
		ck_assert_int_eq(refs(&tw[i]), 1);
	}
	for (int i = 0; i < N; i++) {
		td_mutex_unlock(&m);
		/* Handed to waiter i: exactly it was woken, once. */
		for (int j = 0; j < N; j++)
			ck_assert_int_eq(wakes(&tw[j]), j <= i ? 1 : 0);
		ck_assert_int_eq(refs(&tw[i]), 0);
		/* No barging while the hand-off is pending. */
		ck_assert(td_mutex_is_locked(&m));
		ck_assert(!td_mutex_try_lock(&m));
		ck_assert_int_eq(poll_tw(&lk[i], &tw[i]), TD_READY);
	}
	td_mutex_unlock(&m);
	ck_assert(!td_mutex_is_locked(&m));
	for (int j = 0; j < N; j++) {
		ck_assert_int_eq(wakes(&tw[j]), 1);
		ck_assert_int_eq(refs(&tw[j]), 0);
	}
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_no_barging_new_future)
{
	td_mutex m;
	td_mutex_lock a, late;
	test_waker twa, twl;

	td_mutex_init(&m);
	test_waker_init(&twa);
	test_waker_init(&twl);
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_lock_init(&a, &m);
	ck_assert_int_eq(poll_tw(&a, &twa), TD_PENDING);
	td_mutex_unlock(&m); /* handed to a, which has not run yet */
	td_mutex_lock_init(&late, &m);
	ck_assert_int_eq(poll_tw(&late, &twl), TD_PENDING);
	ck_assert_int_eq(poll_tw(&a, &twa), TD_READY);
	td_mutex_unlock(&m);
	ck_assert_int_eq(wakes(&twl), 1);
	ck_assert_int_eq(poll_tw(&late, &twl), TD_READY);
	td_mutex_unlock(&m);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_drop_waiting)
{
	td_mutex m;
	td_mutex_lock a, b, c;
	test_waker ta, tb, tc;

	td_mutex_init(&m);
	test_waker_init(&ta);
	test_waker_init(&tb);
	test_waker_init(&tc);
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_lock_init(&a, &m);
	td_mutex_lock_init(&b, &m);
	td_mutex_lock_init(&c, &m);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	ck_assert_int_eq(poll_tw(&c, &tc), TD_PENDING);
	td_future_drop(&b.base); /* middle of the queue */
	ck_assert_int_eq(refs(&tb), 0);
	td_future_drop(&b.base); /* twice: harmless */
	td_mutex_unlock(&m);
	ck_assert_int_eq(wakes(&ta), 1);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	td_mutex_unlock(&m);
	ck_assert_int_eq(wakes(&tb), 0);
	ck_assert_int_eq(wakes(&tc), 1);
	ck_assert_int_eq(poll_tw(&c, &tc), TD_READY);
	td_mutex_unlock(&m);
	ck_assert(!td_mutex_is_locked(&m));
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_drop_never_polled)
{
	td_mutex m;
	td_mutex_lock a;

	td_mutex_init(&m);
	td_mutex_lock_init(&a, &m);
	td_future_drop(&a.base);
	ck_assert(!td_mutex_is_locked(&m));
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_lock_init(&a, &m);
	td_future_drop(&a.base);
	td_mutex_unlock(&m);
	ck_assert(!td_mutex_is_locked(&m));
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_drop_granted_passes_on)
{
	td_mutex m;
	td_mutex_lock a, b;
	test_waker ta, tb;

	td_mutex_init(&m);
	test_waker_init(&ta);
	test_waker_init(&tb);
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_lock_init(&a, &m);
	td_mutex_lock_init(&b, &m);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	td_mutex_unlock(&m); /* handed to a */
	ck_assert_int_eq(wakes(&ta), 1);
	td_future_drop(&a.base); /* a never runs: b gets it */
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert(td_mutex_is_locked(&m));
	ck_assert_int_eq(poll_tw(&b, &tb), TD_READY);
	td_mutex_unlock(&m);
	ck_assert(!td_mutex_is_locked(&m));
	ck_assert_int_eq(refs(&ta) + refs(&tb), 0);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_drop_granted_last_unlocks)
{
	td_mutex m;
	td_mutex_lock a;
	test_waker ta;

	td_mutex_init(&m);
	test_waker_init(&ta);
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_lock_init(&a, &m);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	td_mutex_unlock(&m);
	td_future_drop(&a.base);
	ck_assert(!td_mutex_is_locked(&m));
	ck_assert_uint_eq(td_mutex_holder_id(&m), 0);
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_unlock(&m);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_waker_refresh)
{
	td_mutex m;
	td_mutex_lock a;
	test_waker t1, t2;

	td_mutex_init(&m);
	test_waker_init(&t1);
	test_waker_init(&t2);
	ck_assert(td_mutex_try_lock(&m));
	td_mutex_lock_init(&a, &m);
	ck_assert_int_eq(poll_tw(&a, &t1), TD_PENDING);
	ck_assert_int_eq(poll_tw(&a, &t1), TD_PENDING); /* same: kept */
	ck_assert_int_eq(refs(&t1), 1);
	ck_assert_int_eq(poll_tw(&a, &t2), TD_PENDING); /* moved task */
	ck_assert_int_eq(refs(&t1), 0);
	ck_assert_int_eq(refs(&t2), 1);
	td_mutex_unlock(&m);
	ck_assert_int_eq(wakes(&t1), 0);
	ck_assert_int_eq(wakes(&t2), 1);
	ck_assert_int_eq(poll_tw(&a, &t2), TD_READY);
	td_mutex_unlock(&m);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_holder_ids)
{
	td_mutex m;
	td_mutex_lock a, b;
	test_waker ta, tb;

	td_mutex_init(&m);
	test_waker_init(&ta);
	test_waker_init(&tb);
	set_current_task(&fake_task, 42);
	td_mutex_lock_init(&a, &m);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	ck_assert_uint_eq(td_mutex_holder_id(&m), 42);
	set_current_task(&fake_task, 7);
	td_mutex_lock_init(&b, &m);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	/* Task 42's unlock runs from elsewhere: the holder becomes 7, the
	 * waiter's task, not whoever unlocked. */
	set_current_task(&fake_task, 99);
	td_mutex_unlock(&m);
	ck_assert_uint_eq(td_mutex_holder_id(&m), 7);
	set_current_task(&fake_task, 7);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_READY);
	ck_assert_uint_eq(td_mutex_holder_id(&m), 7);
	td_mutex_unlock(&m);
	ck_assert_uint_eq(td_mutex_holder_id(&m), 0);
	set_current_task(&fake_task, 5);
	ck_assert(td_mutex_try_lock(&m));
	ck_assert_uint_eq(td_mutex_holder_id(&m), 5);
	td_mutex_unlock(&m);
	set_current_task(&fake_task, 0);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_trace_pending_and_free)
{
	td_mutex m;
	td_mutex_lock a;
	test_waker ta;
	td_trace *t;
	const td_backtrace *bt;

	td_mutex_init(&m);
	test_waker_init(&ta);

	/* A free mutex: tracing must not take it. */
	td_mutex_lock_init(&a, &m);
	t = trace_poll(&a);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_MUTEX);
	ck_assert_ptr_eq(bt->wait.object, &m);
	ck_assert_uint_eq(bt->wait.task_id, 0);
	ck_assert_uint_gt(bt->n, 0);
	td_trace_free(t);
	ck_assert(!td_mutex_is_locked(&m));

	/* Held by task 42: the wait names the holder. */
	set_current_task(&fake_task, 42);
	ck_assert(td_mutex_try_lock(&m));
	set_current_task(&fake_task, 0);
	t = trace_poll(&a);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_MUTEX);
	ck_assert_uint_eq(bt->wait.task_id, 42);
	td_trace_free(t);

	/* Queued, then traced: nothing changes. */
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	t = trace_poll(&a);
	td_trace_free(t);
	ck_assert_int_eq(refs(&ta), 1);

	/* Handed the lock, then traced: still granted, not consumed. */
	td_mutex_unlock(&m);
	ck_assert_int_eq(wakes(&ta), 1);
	t = trace_poll(&a);
	td_trace_free(t);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	td_mutex_unlock(&m);
	td_mutex_destroy(&m);
}
END_TEST

START_TEST(test_coop_budget)
{
	td_mutex m;
	td_mutex_lock a;
	test_waker ta;

	td_mutex_init(&m);
	test_waker_init(&ta);
	td_mutex_lock_init(&a, &m);
	td_tls_budget = 0;
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(wakes(&ta), 1);   /* re-woken by the budget */
	ck_assert(!td_mutex_is_locked(&m)); /* nothing taken */
	td_tls_budget = 1;
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	ck_assert_int_eq(td_tls_budget, 0);
	td_tls_budget = -1;
	td_mutex_unlock(&m);
	td_mutex_destroy(&m);
}
END_TEST

/* ---- stress ------------------------------------------------------------ */

enum { STRESS_THREADS = 4, STRESS_ITERS = 20000 };

struct stress {
	td_mutex m;
	long counter;     /* protected by m */
	int inside;       /* protected by m; checks exclusion */
	atomic_int errors;
	atomic_int waits; /* lock futures that had to wait */
	/* One per thread, here and not on the thread's stack: an unlocker
	 * wakes a waker after unlocking (and after storing GRANTED), so a
	 * thread may finish while a wake of its waker is still on its way
	 * on another thread.  Checked once all threads are joined. */
	test_waker tw[STRESS_THREADS];
	atomic_int next_id;
};

/* Sometimes yield while holding the lock, so that the others queue up
 * and hand-offs (and cancels racing them) really happen. */
static void critical(struct stress *s, unsigned r)
{
	if (s->inside++ != 0)
		atomic_fetch_add(&s->errors, 1);
	if (r % 16 == 0)
		sched_yield();
	s->counter++;
	s->inside--;
}

static void *stress_thread(void *arg)
{
	struct stress *s = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self() | 1u;
	test_waker *tw = &s->tw[atomic_fetch_add(&s->next_id, 1)];
	td_mutex_lock lk;
	long done = 0;
	int waited = 0;

	while (done < STRESS_ITERS) {
		unsigned r = rnd(&seed) % 8;
		if (r == 0) {
			if (!td_mutex_try_lock(&s->m))
				continue;
		} else {
			td_mutex_lock_init(&lk, &s->m);
			if (r == 1 && poll_tw(&lk, tw) == TD_PENDING) {
				/* Cancel, possibly racing a hand-off. */
				td_future_drop(&lk.base);
				continue;
			}
			if (poll_until_ready(&lk, tw) > 1)
				waited++;
			td_future_drop(&lk.base); /* no-op after READY */
		}
		critical(s, rnd(&seed));
		td_mutex_unlock(&s->m);
		done++;
	}
	atomic_fetch_add(&s->waits, waited);
	return NULL;
}

START_TEST(test_stress_threads)
{
	struct stress s = {.counter = 0};
	pthread_t th[STRESS_THREADS];

	td_mutex_init(&s.m);
	atomic_init(&s.errors, 0);
	atomic_init(&s.waits, 0);
	atomic_init(&s.next_id, 0);
	for (int i = 0; i < STRESS_THREADS; i++)
		test_waker_init(&s.tw[i]);
	for (int i = 0; i < STRESS_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, stress_thread, &s),
				 0);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&s.errors), 0);
	/* Every wake ran inside an unlock or a drop on some thread, so all
	 * are done now: a reference left is a leaked waker. */
	for (int i = 0; i < STRESS_THREADS; i++)
		ck_assert_int_eq(refs(&s.tw[i]), 0);
	ck_assert_int_eq(s.counter, (long)STRESS_THREADS * STRESS_ITERS);
	ck_assert_int_gt(atomic_load(&s.waits), 0); /* the test tested */
	ck_assert(!td_mutex_is_locked(&s.m));
	td_mutex_destroy(&s.m);
}
END_TEST

static Suite *mutex_suite(void)
{
	Suite *s = suite_create("mutex");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_static_initializer);
	tcase_add_test(tc, test_fifo_handoff);
	tcase_add_test(tc, test_no_barging_new_future);
	tcase_add_test(tc, test_drop_waiting);
	tcase_add_test(tc, test_drop_never_polled);
	tcase_add_test(tc, test_drop_granted_passes_on);
	tcase_add_test(tc, test_drop_granted_last_unlocks);
	tcase_add_test(tc, test_waker_refresh);
	tcase_add_test(tc, test_holder_ids);
	tcase_add_test(tc, test_trace_pending_and_free);
	tcase_add_test(tc, test_coop_budget);
	suite_add_tcase(s, tc);

	TCase *st = tcase_create("stress");
	tcase_set_timeout(st, 120);
	tcase_add_test(st, test_stress_threads);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	return test_run_suite(mutex_suite());
}
