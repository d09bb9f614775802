/* test_oneshot.c - the one-value channel (taskdump/oneshot.h). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "taskdump/oneshot.h"
#include "sync_test.h"

static int dropped;

static void count_drop(void *v)
{
	dropped++;
	free(v);
}

START_TEST(test_small)
{
	td_oneshot *ch = td_oneshot_new();

	ck_assert_ptr_nonnull(ch);
	/* One malloc chunk of at most 48 bytes (40 usable). */
	ck_assert_uint_le(malloc_usable_size(ch), 40);
	td_oneshot_sender_release(ch);
	td_oneshot_receiver_release(ch);
}
END_TEST

START_TEST(test_send_then_recv)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker tw;
	int x;

	test_waker_init(&tw);
	ck_assert(!td_oneshot_is_closed(ch));
	ck_assert_int_eq(td_oneshot_send(ch, &x), 0);
	td_oneshot_recv_init(&r, ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_int_eq(r.error, 0);
	ck_assert_ptr_eq(r.value, &x);
	ck_assert_ptr_null(r.ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY); /* idempotent */
	td_future_drop(&r.base);                     /* no-op */
	ck_assert_int_eq(refs(&tw), 0);
	ck_assert_int_eq(wakes(&tw), 0);
}
END_TEST

START_TEST(test_recv_waits_one_wake)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker tw;
	int x;

	test_waker_init(&tw);
	td_oneshot_recv_init(&r, ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_PENDING);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_PENDING); /* same waker kept */
	ck_assert_int_eq(refs(&tw), 1);
	ck_assert_int_eq(td_oneshot_send(ch, &x), 0);
	ck_assert_int_eq(wakes(&tw), 1);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_ptr_eq(r.value, &x);
	ck_assert_int_eq(refs(&tw), 0); /* freed with the channel */
	ck_assert_int_eq(wakes(&tw), 1);
}
END_TEST

START_TEST(test_waker_swap)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker t1, t2;

	test_waker_init(&t1);
	test_waker_init(&t2);
	td_oneshot_recv_init(&r, ch);
	ck_assert_int_eq(poll_tw(&r, &t1), TD_PENDING);
	ck_assert_int_eq(poll_tw(&r, &t2), TD_PENDING);
	ck_assert_int_eq(refs(&t1), 0);
	ck_assert_int_eq(refs(&t2), 1);
	td_oneshot_sender_release(ch);
	ck_assert_int_eq(wakes(&t1), 0);
	ck_assert_int_eq(wakes(&t2), 1);
	ck_assert_int_eq(poll_tw(&r, &t2), TD_READY);
	ck_assert_int_eq(r.error, -EPIPE);
	ck_assert_ptr_null(r.value);
	ck_assert_int_eq(refs(&t2), 0);
}
END_TEST

START_TEST(test_sender_dropped_before_poll)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker tw;

	test_waker_init(&tw);
	td_oneshot_sender_release(ch);
	td_oneshot_recv_init(&r, ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_int_eq(r.error, -EPIPE);
	ck_assert_int_eq(wakes(&tw), 0);
}
END_TEST

START_TEST(test_receiver_gone)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker tw;
	int x;

	test_waker_init(&tw);
	td_oneshot_recv_init(&r, ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_PENDING);
	td_future_drop(&r.base); /* releases the receiver */
	ck_assert_ptr_null(r.ch);
	ck_assert(td_oneshot_is_closed(ch));
	ck_assert_int_eq(td_oneshot_send(ch, &x), -EPIPE); /* frees */
	ck_assert_int_eq(wakes(&tw), 0);
	ck_assert_int_eq(refs(&tw), 0);

	/* Never-polled recv dropped. */
	ch = td_oneshot_new();
	td_oneshot_recv_init(&r, ch);
	td_future_drop(&r.base);
	ck_assert_int_eq(td_oneshot_send(ch, &x), -EPIPE);
}
END_TEST

START_TEST(test_close_keeps_sent_value)
{
	td_oneshot *ch = td_oneshot_new();
	void *v;
	int x;

	ck_assert_int_eq(td_oneshot_try_recv(ch, &v), -EAGAIN);
	ck_assert_int_eq(td_oneshot_send(ch, &x), 0);
	td_oneshot_close(ch);
	ck_assert_int_eq(td_oneshot_try_recv(ch, &v), 0);
	ck_assert_ptr_eq(v, &x);
	ck_assert_int_eq(td_oneshot_try_recv(ch, &v), -EPIPE); /* taken */
	td_oneshot_receiver_release(ch);

	/* Closed first: the send fails and the recv reports closed. */
	td_oneshot_recv r;
	test_waker tw;
	test_waker_init(&tw);
	ch = td_oneshot_new();
	td_oneshot_close(ch);
	ck_assert_int_eq(td_oneshot_send(ch, &x), -EPIPE);
	td_oneshot_recv_init(&r, ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_int_eq(r.error, -EPIPE);
}
END_TEST

START_TEST(test_drop_value)
{
	td_oneshot *ch;
	void *v;

	dropped = 0;
	/* Sent, never received: destroyed with the channel. */
	ch = td_oneshot_new_with_drop(count_drop);
	ck_assert_int_eq(td_oneshot_send(ch, malloc(16)), 0);
	td_oneshot_receiver_release(ch);
	ck_assert_int_eq(dropped, 1);

	/* Received: the receiver owns it, no destructor call. */
	ch = td_oneshot_new_with_drop(count_drop);
	ck_assert_int_eq(td_oneshot_send(ch, malloc(16)), 0);
	ck_assert_int_eq(td_oneshot_try_recv(ch, &v), 0);
	td_oneshot_receiver_release(ch);
	ck_assert_int_eq(dropped, 1);
	free(v);

	/* Refused: the caller keeps it. */
	ch = td_oneshot_new_with_drop(count_drop);
	td_oneshot_receiver_release(ch);
	v = malloc(16);
	ck_assert_int_eq(td_oneshot_send(ch, v), -EPIPE);
	ck_assert_int_eq(dropped, 1);
	free(v);
}
END_TEST

START_TEST(test_trace)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker tw;
	td_trace *t;
	const td_backtrace *bt;
	int x;

	test_waker_init(&tw);
	td_oneshot_recv_init(&r, ch);
	t = trace_poll(&r);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_ONESHOT);
	ck_assert_ptr_eq(bt->wait.object, ch);
	td_trace_free(t);

	ck_assert_int_eq(poll_tw(&r, &tw), TD_PENDING);
	ck_assert_int_eq(td_oneshot_send(ch, &x), 0);
	/* The value is there: tracing takes nothing. */
	t = trace_poll(&r);
	td_trace_free(t);
	ck_assert_ptr_eq(r.ch, ch);
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_ptr_eq(r.value, &x);
}
END_TEST

START_TEST(test_coop_budget)
{
	td_oneshot *ch = td_oneshot_new();
	td_oneshot_recv r;
	test_waker tw;
	int x;

	test_waker_init(&tw);
	ck_assert_int_eq(td_oneshot_send(ch, &x), 0);
	td_oneshot_recv_init(&r, ch);
	td_tls_budget = 0;
	ck_assert_int_eq(poll_tw(&r, &tw), TD_PENDING);
	ck_assert_int_eq(wakes(&tw), 1);
	ck_assert_ptr_eq(r.ch, ch);
	td_tls_budget = -1;
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_ptr_eq(r.value, &x);
}
END_TEST

/* ---- stress ------------------------------------------------------------ */

enum { ROUNDS = 20000 };

struct race {
	td_oneshot *ch;
	int mode; /* 0: send, 1: sender release */
	pthread_barrier_t go;
	int send_rc;
};

static void *race_sender(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(&r->go);
	if (r->mode == 0)
		r->send_rc = td_oneshot_send(r->ch, (void *)(uintptr_t)0x1234);
	else
		td_oneshot_sender_release(r->ch);
	return NULL;
}

/* The sender races with the receiver's polls (and sometimes its drop):
 * the result must be consistent and no wake may be lost. */
START_TEST(test_stress_race)
{
	unsigned seed = 99;
	int delivered = 0;

	for (int i = 0; i < ROUNDS; i++) {
		struct race r = {.ch = td_oneshot_new(),
				 .mode = (int)(rnd(&seed) % 2)};
		bool drop = rnd(&seed) % 4 == 0;
		td_oneshot_recv f;
		test_waker tw;
		pthread_t th;

		test_waker_init(&tw);
		pthread_barrier_init(&r.go, NULL, 2);
		td_oneshot_recv_init(&f, r.ch);
		pthread_create(&th, NULL, race_sender, &r);
		pthread_barrier_wait(&r.go);
		if (drop && poll_tw(&f, &tw) == TD_PENDING) {
			td_future_drop(&f.base);
			pthread_join(th, NULL);
			if (r.mode == 0)
				ck_assert(r.send_rc == 0 || r.send_rc == -EPIPE);
		} else {
			(void)poll_until_ready(&f, &tw);
			pthread_join(th, NULL);
			if (r.mode == 0) {
				ck_assert_int_eq(r.send_rc, 0);
				ck_assert_int_eq(f.error, 0);
				ck_assert_ptr_eq(f.value, (void *)(uintptr_t)0x1234);
				delivered++;
			} else {
				ck_assert_int_eq(f.error, -EPIPE);
			}
		}
		ck_assert_int_eq(refs(&tw), 0);
		pthread_barrier_destroy(&r.go);
	}
	ck_assert_int_gt(delivered, 0);
}
END_TEST

static Suite *oneshot_suite(void)
{
	Suite *s = suite_create("oneshot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_small);
	tcase_add_test(tc, test_send_then_recv);
	tcase_add_test(tc, test_recv_waits_one_wake);
	tcase_add_test(tc, test_waker_swap);
	tcase_add_test(tc, test_sender_dropped_before_poll);
	tcase_add_test(tc, test_receiver_gone);
	tcase_add_test(tc, test_close_keeps_sent_value);
	tcase_add_test(tc, test_drop_value);
	tcase_add_test(tc, test_trace);
	tcase_add_test(tc, test_coop_budget);
	suite_add_tcase(s, tc);

	TCase *st = tcase_create("stress");
	tcase_set_timeout(st, 120);
	tcase_add_test(st, test_stress_race);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	return test_run_suite(oneshot_suite());
}
