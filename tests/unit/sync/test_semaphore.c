/* test_semaphore.c - the async FIFO semaphore (taskdump/semaphore.h). */
#include <errno.h>
#include <pthread.h>

#include "taskdump/semaphore.h"
#include "sync_test.h"

START_TEST(test_basic)
{
	td_semaphore s;
	td_semaphore_acquire a;
	test_waker tw;

	td_semaphore_init(&s, 3);
	test_waker_init(&tw);
	td_semaphore_acquire_init(&a, &s, 2);
	ck_assert_int_eq(poll_tw(&a, &tw), TD_READY);
	ck_assert_int_eq(a.error, 0);
	ck_assert_uint_eq(td_semaphore_available(&s), 1);
	ck_assert_int_eq(td_semaphore_try_acquire(&s, 2), -EAGAIN);
	ck_assert_int_eq(td_semaphore_try_acquire(&s, 1), 0);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	ck_assert_int_eq(td_semaphore_try_acquire(&s, 0), 0);
	td_semaphore_release(&s, 3);
	ck_assert_uint_eq(td_semaphore_available(&s), 3);
	td_future_drop(&a.base); /* READY: keeps nothing, returns nothing */
	ck_assert_uint_eq(td_semaphore_available(&s), 3);
	ck_assert_int_eq(refs(&tw), 0);
	ck_assert_int_eq(wakes(&tw), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_acquire_zero)
{
	static td_semaphore s = TD_SEMAPHORE_INITIALIZER(0);
	td_semaphore_acquire a, z;
	test_waker ta, tz;

	test_waker_init(&ta);
	test_waker_init(&tz);
	td_semaphore_acquire_init(&a, &s, 1);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	td_semaphore_acquire_init(&z, &s, 0);
	ck_assert_int_eq(poll_tw(&z, &tz), TD_READY);
	ck_assert_int_eq(z.error, 0);
	td_future_drop(&a.base);
	ck_assert_int_eq(refs(&ta), 0);
}
END_TEST

START_TEST(test_fifo_large_head_blocks)
{
	td_semaphore s;
	td_semaphore_acquire big, small;
	test_waker tb, ts;

	td_semaphore_init(&s, 1);
	test_waker_init(&tb);
	test_waker_init(&ts);
	td_semaphore_acquire_init(&big, &s, 3);
	td_semaphore_acquire_init(&small, &s, 1);
	ck_assert_int_eq(poll_tw(&big, &tb), TD_PENDING);
	/* 1 permit is available, but the head wants 3: wait behind it. */
	ck_assert_int_eq(poll_tw(&small, &ts), TD_PENDING);
	ck_assert_int_eq(td_semaphore_try_acquire(&s, 1), -EAGAIN);
	ck_assert_uint_eq(td_semaphore_available(&s), 1);

	td_semaphore_release(&s, 2);
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert_int_eq(wakes(&ts), 0);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	ck_assert_int_eq(poll_tw(&big, &tb), TD_READY);
	ck_assert_int_eq(big.error, 0);
	ck_assert_int_eq(poll_tw(&small, &ts), TD_PENDING);

	td_semaphore_release(&s, 3);
	ck_assert_int_eq(wakes(&ts), 1);
	ck_assert_int_eq(poll_tw(&small, &ts), TD_READY);
	ck_assert_uint_eq(td_semaphore_available(&s), 2);
	ck_assert_int_eq(refs(&tb) + refs(&ts), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_release_grants_several)
{
	enum { N = 40 }; /* more than one wake batch */
	td_semaphore s;
	td_semaphore_acquire a[N];
	test_waker tw[N];

	td_semaphore_init(&s, 0);
	for (int i = 0; i < N; i++) {
		test_waker_init(&tw[i]);
		td_semaphore_acquire_init(&a[i], &s, 1);
		ck_assert_int_eq(poll_tw(&a[i], &tw[i]), TD_PENDING);
	}
	td_semaphore_release(&s, N - 1);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(wakes(&tw[i]), i < N - 1 ? 1 : 0);
	for (int i = 0; i < N - 1; i++) {
		ck_assert_int_eq(poll_tw(&a[i], &tw[i]), TD_READY);
		ck_assert_int_eq(a[i].error, 0);
	}
	ck_assert_int_eq(poll_tw(&a[N - 1], &tw[N - 1]), TD_PENDING);
	td_future_drop(&a[N - 1].base);
	ck_assert_int_eq(refs(&tw[N - 1]), 0);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_drop_head_unblocks)
{
	td_semaphore s;
	td_semaphore_acquire big, small;
	test_waker tb, ts;

	td_semaphore_init(&s, 1);
	test_waker_init(&tb);
	test_waker_init(&ts);
	td_semaphore_acquire_init(&big, &s, 3);
	td_semaphore_acquire_init(&small, &s, 1);
	ck_assert_int_eq(poll_tw(&big, &tb), TD_PENDING);
	ck_assert_int_eq(poll_tw(&small, &ts), TD_PENDING);
	td_future_drop(&big.base);
	ck_assert_int_eq(refs(&tb), 0);
	ck_assert_int_eq(wakes(&tb), 0);
	ck_assert_int_eq(wakes(&ts), 1);
	ck_assert_int_eq(poll_tw(&small, &ts), TD_READY);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_drop_granted_returns_permits)
{
	td_semaphore s;
	td_semaphore_acquire a, b;
	test_waker ta, tb;

	td_semaphore_init(&s, 0);
	test_waker_init(&ta);
	test_waker_init(&tb);
	td_semaphore_acquire_init(&a, &s, 2);
	td_semaphore_acquire_init(&b, &s, 2);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	td_semaphore_release(&s, 2); /* granted to a */
	ck_assert_int_eq(wakes(&ta), 1);
	ck_assert_int_eq(wakes(&tb), 0);
	td_future_drop(&a.base); /* a never runs: its permits go to b */
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_READY);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	td_semaphore_release(&s, 2);

	/* Granted then dropped with nobody waiting: back to available. */
	td_semaphore_acquire_init(&a, &s, 5);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	td_semaphore_release(&s, 3);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	td_future_drop(&a.base);
	ck_assert_uint_eq(td_semaphore_available(&s), 5);
	ck_assert_int_eq(refs(&ta) + refs(&tb), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_drop_never_polled)
{
	td_semaphore s;
	td_semaphore_acquire a;

	td_semaphore_init(&s, 2);
	td_semaphore_acquire_init(&a, &s, 1);
	td_future_drop(&a.base);
	ck_assert_uint_eq(td_semaphore_available(&s), 2);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_close)
{
	td_semaphore s;
	td_semaphore_acquire a, b, c;
	test_waker ta, tb, tc;

	td_semaphore_init(&s, 1);
	test_waker_init(&ta);
	test_waker_init(&tb);
	test_waker_init(&tc);
	td_semaphore_acquire_init(&a, &s, 1);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY); /* holds 1 */
	td_semaphore_acquire_init(&b, &s, 1);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	ck_assert(!td_semaphore_is_closed(&s));
	td_semaphore_close(&s);
	ck_assert(td_semaphore_is_closed(&s));
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert_int_eq(refs(&tb), 0);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_READY);
	ck_assert_int_eq(b.error, -EPIPE);
	/* New acquires fail at once. */
	td_semaphore_acquire_init(&c, &s, 1);
	ck_assert_int_eq(poll_tw(&c, &tc), TD_READY);
	ck_assert_int_eq(c.error, -EPIPE);
	ck_assert_int_eq(td_semaphore_try_acquire(&s, 1), -EPIPE);
	/* Releasing a permit granted before the close is fine. */
	td_semaphore_release(&s, 1);
	ck_assert_uint_eq(td_semaphore_available(&s), 1);
	td_semaphore_close(&s); /* idempotent */

	/* Closed while a closed-completed acquire was not polled: drop it. */
	td_semaphore_destroy(&s);
	td_semaphore_init(&s, 0);
	td_semaphore_acquire_init(&a, &s, 1);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	td_semaphore_close(&s);
	td_future_drop(&a.base);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	ck_assert_int_eq(refs(&ta), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_trace)
{
	td_semaphore s;
	td_semaphore_acquire a;
	test_waker ta;
	td_trace *t;
	const td_backtrace *bt;

	td_semaphore_init(&s, 5);
	test_waker_init(&ta);
	/* Enough permits: tracing still takes none. */
	td_semaphore_acquire_init(&a, &s, 2);
	t = trace_poll(&a);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_SEMAPHORE);
	ck_assert_ptr_eq(bt->wait.object, &s);
	ck_assert_uint_eq(bt->wait.count, 2);
	ck_assert_uint_eq(bt->wait.value, 5);
	td_trace_free(t);
	ck_assert_uint_eq(td_semaphore_available(&s), 5);

	/* Waiting for more than there is. */
	td_semaphore_acquire_init(&a, &s, 7);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	t = trace_poll(&a);
	bt = td_trace_get(t, 0);
	ck_assert_uint_eq(bt->wait.count, 7);
	ck_assert_uint_eq(bt->wait.value, 5);
	td_trace_free(t);
	ck_assert_int_eq(refs(&ta), 1);
	td_semaphore_release(&s, 2);
	t = trace_poll(&a); /* granted, not consumed by tracing */
	td_trace_free(t);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	ck_assert_int_eq(a.error, 0);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	td_semaphore_destroy(&s);
}
END_TEST

START_TEST(test_coop_budget)
{
	td_semaphore s;
	td_semaphore_acquire a;
	test_waker ta;

	td_semaphore_init(&s, 1);
	test_waker_init(&ta);
	td_semaphore_acquire_init(&a, &s, 1);
	td_tls_budget = 0;
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(wakes(&ta), 1);
	ck_assert_uint_eq(td_semaphore_available(&s), 1);
	td_tls_budget = -1;
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	ck_assert_uint_eq(td_semaphore_available(&s), 0);
	td_semaphore_destroy(&s);
}
END_TEST

/* ---- stress ------------------------------------------------------------ */

enum { LIMIT = 3, THREADS = 4, ITERS = 20000 };

struct stress {
	td_semaphore sem;
	atomic_int in_use;
	atomic_int max_seen;
	atomic_int errors;
	atomic_int waits; /* acquires that had to wait */
};

static void *stress_thread(void *arg)
{
	struct stress *st = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self() | 1u;
	td_semaphore_acquire a;
	test_waker tw;

	test_waker_init(&tw);
	for (int i = 0; i < ITERS;) {
		unsigned r = rnd(&seed);
		int n = 1 + (int)(r % 2);
		if (r % 7 == 0) {
			if (td_semaphore_try_acquire(&st->sem, (size_t)n) != 0)
				continue;
		} else {
			td_semaphore_acquire_init(&a, &st->sem, (size_t)n);
			if (r % 5 == 0 && poll_tw(&a, &tw) == TD_PENDING) {
				td_future_drop(&a.base); /* maybe just granted */
				continue;
			}
			if (poll_until_ready(&a, &tw) > 1)
				atomic_fetch_add(&st->waits, 1);
			if (a.error != 0)
				atomic_fetch_add(&st->errors, 1);
		}
		int now = atomic_fetch_add(&st->in_use, n) + n;
		if (now > LIMIT)
			atomic_fetch_add(&st->errors, 1);
		if (r % 8 == 0)
			sched_yield(); /* hold the permits a while: others queue */
		int m = atomic_load(&st->max_seen);
		while (now > m && !atomic_compare_exchange_weak(&st->max_seen,
								 &m, now))
			;
		atomic_fetch_sub(&st->in_use, n);
		td_semaphore_release(&st->sem, (size_t)n);
		i++;
	}
	if (refs(&tw) != 0)
		atomic_fetch_add(&st->errors, 1);
	return NULL;
}

START_TEST(test_stress_threads)
{
	struct stress st;
	pthread_t th[THREADS];

	td_semaphore_init(&st.sem, LIMIT);
	atomic_init(&st.in_use, 0);
	atomic_init(&st.max_seen, 0);
	atomic_init(&st.errors, 0);
	atomic_init(&st.waits, 0);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, stress_thread, &st), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&st.errors), 0);
	ck_assert_int_le(atomic_load(&st.max_seen), LIMIT);
	ck_assert_int_gt(atomic_load(&st.waits), 0); /* the test tested */
	ck_assert_uint_eq(td_semaphore_available(&st.sem), LIMIT);
	td_semaphore_destroy(&st.sem);
}
END_TEST

static Suite *semaphore_suite(void)
{
	Suite *s = suite_create("semaphore");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_acquire_zero);
	tcase_add_test(tc, test_fifo_large_head_blocks);
	tcase_add_test(tc, test_release_grants_several);
	tcase_add_test(tc, test_drop_head_unblocks);
	tcase_add_test(tc, test_drop_granted_returns_permits);
	tcase_add_test(tc, test_drop_never_polled);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_trace);
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
	return test_run_suite(semaphore_suite());
}
