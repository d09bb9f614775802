/* test_notify.c - td_notify / td_notified (taskdump/notify.h). */
#include <pthread.h>

#include "taskdump/notify.h"
#include "sync_test.h"

START_TEST(test_permit_before_wait)
{
	td_notify n;
	td_notified a, b;
	test_waker ta, tb;

	td_notify_init(&n);
	test_waker_init(&ta);
	test_waker_init(&tb);
	td_notify_one(&n);
	td_notify_one(&n); /* permits do not accumulate */
	td_notified_init(&a, &n);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	ck_assert_int_eq(refs(&tb), 1);
	td_future_drop(&b.base);
	ck_assert_int_eq(refs(&ta) + refs(&tb), 0);
	ck_assert_int_eq(wakes(&ta) + wakes(&tb), 0);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_notify_one_fifo)
{
	enum { N = 4 };
	td_notify n;
	td_notified f[N];
	test_waker tw[N];

	td_notify_init(&n);
	for (int i = 0; i < N; i++) {
		test_waker_init(&tw[i]);
		td_notified_init(&f[i], &n);
		ck_assert_int_eq(poll_tw(&f[i], &tw[i]), TD_PENDING);
	}
	for (int i = 0; i < N; i++) {
		td_notify_one(&n);
		for (int j = 0; j < N; j++)
			ck_assert_int_eq(wakes(&tw[j]), j <= i ? 1 : 0);
		ck_assert_int_eq(poll_tw(&f[i], &tw[i]), TD_READY);
		ck_assert_int_eq(refs(&tw[i]), 0);
	}
	/* Nobody left: the next one is stored. */
	td_notify_one(&n);
	td_notified_init(&f[0], &n);
	ck_assert_int_eq(poll_tw(&f[0], &tw[0]), TD_READY);
	ck_assert_int_eq(wakes(&tw[0]), 1);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_notify_waiters_all_no_permit)
{
	enum { N = 40 }; /* more than one wake batch */
	td_notify n;
	td_notified f[N], late;
	test_waker tw[N], tl;

	td_notify_init(&n);
	test_waker_init(&tl);
	for (int i = 0; i < N; i++) {
		test_waker_init(&tw[i]);
		td_notified_init(&f[i], &n);
		ck_assert_int_eq(poll_tw(&f[i], &tw[i]), TD_PENDING);
	}
	td_notify_waiters(&n);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(wakes(&tw[i]), 1);
		ck_assert_int_eq(refs(&tw[i]), 0);
		ck_assert_int_eq(poll_tw(&f[i], &tw[i]), TD_READY);
	}
	/* No permit stored. */
	td_notified_init(&late, &n);
	ck_assert_int_eq(poll_tw(&late, &tl), TD_PENDING);
	td_future_drop(&late.base);
	ck_assert_int_eq(refs(&tl), 0);
	/* With nobody waiting it is a no-op. */
	td_notify_waiters(&n);
	td_notified_init(&late, &n);
	ck_assert_int_eq(poll_tw(&late, &tl), TD_PENDING);
	td_future_drop(&late.base);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_created_before_notify_waiters)
{
	td_notify n;
	td_notified before, after;
	test_waker tb, ta;

	td_notify_init(&n);
	test_waker_init(&tb);
	test_waker_init(&ta);
	td_notified_init(&before, &n); /* counted from here on */
	td_notify_waiters(&n);
	td_notified_init(&after, &n);
	ck_assert_int_eq(poll_tw(&before, &tb), TD_READY);
	ck_assert_int_eq(poll_tw(&after, &ta), TD_PENDING);
	td_future_drop(&after.base);
	ck_assert_int_eq(refs(&ta) + refs(&tb), 0);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_enable)
{
	td_notify n;
	td_notified a, b;
	test_waker ta, tb;

	td_notify_init(&n);
	test_waker_init(&ta);
	test_waker_init(&tb);
	td_notified_init(&a, &n);
	ck_assert(!td_notified_enable(&a)); /* registered, not notified */
	td_notify_one(&n);                  /* goes to a: no permit */
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	ck_assert(td_notified_enable(&a));
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	ck_assert_int_eq(wakes(&ta), 0); /* had no waker to wake yet */
	td_future_drop(&b.base);

	/* enable consumes a stored permit. */
	td_notify_one(&n);
	td_notified_init(&a, &n);
	ck_assert(td_notified_enable(&a));
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	td_future_drop(&b.base);

	/* enable, then poll: waits with the poll's waker. */
	td_notified_init(&a, &n);
	ck_assert(!td_notified_enable(&a));
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert(!td_notified_enable(&a)); /* harmless after a poll */
	td_notify_one(&n);
	ck_assert_int_eq(wakes(&ta), 1);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	ck_assert_int_eq(refs(&ta) + refs(&tb), 0);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_drop_notified_one_forwards)
{
	td_notify n;
	td_notified a, b, c;
	test_waker ta, tb, tc;

	td_notify_init(&n);
	test_waker_init(&ta);
	test_waker_init(&tb);
	test_waker_init(&tc);
	td_notified_init(&a, &n);
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	td_notify_one(&n); /* picks a */
	ck_assert_int_eq(wakes(&ta), 1);
	td_future_drop(&a.base); /* ... which never consumes it */
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_READY);

	/* Forwarded with nobody waiting: becomes the permit. */
	td_notified_init(&a, &n);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	td_notify_one(&n);
	td_future_drop(&a.base);
	td_notified_init(&c, &n);
	ck_assert_int_eq(poll_tw(&c, &tc), TD_READY);

	/* A permit consumed by enable but never polled is forwarded too. */
	td_notify_one(&n);
	td_notified_init(&a, &n);
	ck_assert(td_notified_enable(&a));
	td_future_drop(&a.base);
	td_notified_init(&c, &n);
	ck_assert_int_eq(poll_tw(&c, &tc), TD_READY);
	ck_assert_int_eq(refs(&ta) + refs(&tb) + refs(&tc), 0);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_drop_notified_all_forwards_nothing)
{
	td_notify n;
	td_notified a, b;
	test_waker ta, tb;

	td_notify_init(&n);
	test_waker_init(&ta);
	test_waker_init(&tb);
	td_notified_init(&a, &n);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	td_notify_waiters(&n);
	td_future_drop(&a.base);
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING); /* no permit */
	td_future_drop(&b.base);
	ck_assert_int_eq(refs(&ta) + refs(&tb), 0);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_drop_waiting)
{
	td_notify n;
	td_notified a, b;
	test_waker ta, tb;

	td_notify_init(&n);
	test_waker_init(&ta);
	test_waker_init(&tb);
	td_notified_init(&a, &n);
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	td_future_drop(&a.base);
	ck_assert_int_eq(refs(&ta), 0);
	td_notify_one(&n);
	ck_assert_int_eq(wakes(&ta), 0);
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_READY);
	/* Never polled, dropped: nothing happens. */
	td_notified_init(&a, &n);
	td_future_drop(&a.base);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_trace)
{
	td_notify n;
	td_notified a;
	test_waker ta;
	td_trace *t;
	const td_backtrace *bt;

	td_notify_init(&n);
	test_waker_init(&ta);
	td_notify_one(&n); /* a permit is stored: tracing must not take it */
	td_notified_init(&a, &n);
	t = trace_poll(&a);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_NOTIFY);
	ck_assert_ptr_eq(bt->wait.object, &n);
	td_trace_free(t);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);

	/* Registered and waiting, then notified: tracing consumes nothing. */
	td_notified_init(&a, &n);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	t = trace_poll(&a);
	td_trace_free(t);
	ck_assert_int_eq(refs(&ta), 1);
	td_notify_one(&n);
	t = trace_poll(&a);
	td_trace_free(t);
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	td_notify_destroy(&n);
}
END_TEST

START_TEST(test_coop_budget)
{
	td_notify n;
	td_notified a, b;
	test_waker ta, tb;

	td_notify_init(&n);
	test_waker_init(&ta);
	test_waker_init(&tb);
	td_notify_one(&n);
	td_notified_init(&a, &n);
	td_tls_budget = 0;
	ck_assert_int_eq(poll_tw(&a, &ta), TD_PENDING);
	ck_assert_int_eq(wakes(&ta), 1);
	td_tls_budget = -1;
	/* The permit is a's now: dropping a would forward it; polling
	 * completes. */
	ck_assert_int_eq(poll_tw(&a, &ta), TD_READY);
	td_notified_init(&b, &n);
	ck_assert_int_eq(poll_tw(&b, &tb), TD_PENDING);
	td_future_drop(&b.base);
	td_notify_destroy(&n);
}
END_TEST

/* ---- stress ------------------------------------------------------------ */

enum { PINGS = 20000 };

struct pingpong {
	td_notify to_b, to_a;
	atomic_int errors;
};

/* Wait on `n` once from a plain thread; sometimes drop a pending future
 * and wait with a fresh one (forwarding must not lose the notify). */
static void wait_once(td_notify *n, unsigned *seed, test_waker *tw)
{
	td_notified f;

	td_notified_init(&f, n);
	while (rnd(seed) % 4 == 0) {
		if (poll_tw(&f, tw) == TD_READY)
			return;
		td_future_drop(&f.base);
		td_notified_init(&f, n);
	}
	(void)poll_until_ready(&f, tw);
}

static void *ping_thread(void *arg)
{
	struct pingpong *p = arg;
	unsigned seed = 12345;
	test_waker tw;

	test_waker_init(&tw);
	for (int i = 0; i < PINGS; i++) {
		td_notify_one(&p->to_b);
		wait_once(&p->to_a, &seed, &tw);
	}
	if (refs(&tw))
		atomic_fetch_add(&p->errors, 1);
	return NULL;
}

static void *pong_thread(void *arg)
{
	struct pingpong *p = arg;
	unsigned seed = 777;
	test_waker tw;

	test_waker_init(&tw);
	for (int i = 0; i < PINGS; i++) {
		wait_once(&p->to_b, &seed, &tw);
		td_notify_one(&p->to_a);
	}
	if (refs(&tw))
		atomic_fetch_add(&p->errors, 1);
	return NULL;
}

START_TEST(test_stress_ping_pong)
{
	struct pingpong p;
	pthread_t a, b;

	td_notify_init(&p.to_a);
	td_notify_init(&p.to_b);
	atomic_init(&p.errors, 0);
	pthread_create(&a, NULL, ping_thread, &p);
	pthread_create(&b, NULL, pong_thread, &p);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ck_assert_int_eq(atomic_load(&p.errors), 0);
	td_notify_destroy(&p.to_a);
	td_notify_destroy(&p.to_b);
}
END_TEST

enum { WAITERS = 3, EPOCHS = 5000 };

struct broadcast {
	td_notify n;
	atomic_int epoch;
	atomic_int errors;
};

/* Waiter: create the future, then check the condition, then await: the
 * td_notify_waiters() that follows a change of `epoch` is never missed. */
static void *broadcast_waiter(void *arg)
{
	struct broadcast *b = arg;
	test_waker tw;
	td_notified f;
	int seen = 0;

	test_waker_init(&tw);
	while (seen < EPOCHS) {
		td_notified_init(&f, &b->n);
		int now = atomic_load(&b->epoch);
		if (now < seen)
			atomic_fetch_add(&b->errors, 1);
		if (now != seen) {
			seen = now;
			td_future_drop(&f.base);
			continue;
		}
		(void)poll_until_ready(&f, &tw);
	}
	if (refs(&tw))
		atomic_fetch_add(&b->errors, 1);
	return NULL;
}

START_TEST(test_stress_notify_waiters)
{
	struct broadcast b;
	pthread_t th[WAITERS];

	td_notify_init(&b.n);
	atomic_init(&b.epoch, 0);
	atomic_init(&b.errors, 0);
	for (int i = 0; i < WAITERS; i++)
		pthread_create(&th[i], NULL, broadcast_waiter, &b);
	for (int e = 1; e <= EPOCHS; e++) {
		atomic_store(&b.epoch, e);
		td_notify_waiters(&b.n);
		if (e % 64 == 0)
			sched_yield();
	}
	for (int i = 0; i < WAITERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&b.errors), 0);
	td_notify_destroy(&b.n);
}
END_TEST

static Suite *notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_permit_before_wait);
	tcase_add_test(tc, test_notify_one_fifo);
	tcase_add_test(tc, test_notify_waiters_all_no_permit);
	tcase_add_test(tc, test_created_before_notify_waiters);
	tcase_add_test(tc, test_enable);
	tcase_add_test(tc, test_drop_notified_one_forwards);
	tcase_add_test(tc, test_drop_notified_all_forwards_nothing);
	tcase_add_test(tc, test_drop_waiting);
	tcase_add_test(tc, test_trace);
	tcase_add_test(tc, test_coop_budget);
	suite_add_tcase(s, tc);

	TCase *st = tcase_create("stress");
	tcase_set_timeout(st, 120);
	tcase_add_test(st, test_stress_ping_pong);
	tcase_add_test(st, test_stress_notify_waiters);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	return test_run_suite(notify_suite());
}
