/* test_mpsc.c - multi-producer single-consumer channels (taskdump/mpsc.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "taskdump/mpsc.h"
#include "sync_test.h"

START_TEST(test_bounded_basic)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 2);
	int v, one = 1, two = 2, three = 3;

	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(td_mpsc_capacity(ch), 2);
	ck_assert_uint_eq(td_mpsc_elem_size(ch), sizeof(int));
	ck_assert_uint_eq(td_mpsc_sender_count(ch), 1);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), -EAGAIN);
	ck_assert_int_eq(td_mpsc_try_send(ch, &one), 0);
	ck_assert_int_eq(td_mpsc_try_send(ch, &two), 0);
	ck_assert_int_eq(td_mpsc_try_send(ch, &three), -EAGAIN);
	ck_assert_uint_eq(td_mpsc_len(ch), 2);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(td_mpsc_try_send(ch, &three), 0);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	ck_assert_int_eq(v, 3);
	ck_assert_uint_eq(td_mpsc_len(ch), 0);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_create_errors)
{
	errno = 0;
	ck_assert_ptr_null(td_mpsc_bounded(0, 1));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(td_mpsc_bounded(8, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(td_mpsc_unbounded(0));
}
END_TEST

struct big {
	uint64_t a, b;
	uint32_t c;
};

START_TEST(test_futures_and_wakes)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(struct big), 1);
	struct big in = {1, 2, 3}, out = {0, 0, 0};
	td_mpsc_recv r;
	td_mpsc_send s;
	test_waker tr, ts;

	test_waker_init(&tr);
	test_waker_init(&ts);
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_PENDING);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_PENDING);
	ck_assert_int_eq(refs(&tr), 1);
	td_mpsc_send_init(&s, ch, &in);
	ck_assert_int_eq(poll_tw(&s, &ts), TD_READY);
	ck_assert_int_eq(s.error, 0);
	ck_assert_int_eq(wakes(&tr), 1); /* exactly one wake */
	ck_assert_int_eq(refs(&tr), 0);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_READY);
	ck_assert_int_eq(r.error, 0);
	ck_assert(out.a == 1 && out.b == 2 && out.c == 3);

	/* A value already queued: recv completes without a wake. */
	in.a = 9;
	ck_assert_int_eq(td_mpsc_try_send(ch, &in), 0);
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_READY);
	ck_assert_uint_eq(out.a, 9);
	ck_assert_int_eq(wakes(&tr), 1);
	ck_assert_int_eq(wakes(&ts), 0);
	ck_assert_int_eq(refs(&tr) + refs(&ts), 0);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_senders_fifo)
{
	enum { N = 5 };
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 1);
	int vals[N], v, first = 100;
	td_mpsc_send s[N];
	test_waker tw[N];

	ck_assert_int_eq(td_mpsc_try_send(ch, &first), 0);
	for (int i = 0; i < N; i++) {
		vals[i] = i;
		test_waker_init(&tw[i]);
		td_mpsc_send_init(&s[i], ch, &vals[i]);
		ck_assert_int_eq(poll_tw(&s[i], &tw[i]), TD_PENDING);
	}
	/* A newcomer cannot jump the queue. */
	ck_assert_int_eq(td_mpsc_try_send(ch, &first), -EAGAIN);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	ck_assert_int_eq(v, 100);
	for (int i = 0; i < N; i++) {
		/* Sender i holds the reserved slot; it is woken exactly once. */
		for (int j = 0; j < N; j++)
			ck_assert_int_eq(wakes(&tw[j]), j <= i ? 1 : 0);
		ck_assert_int_eq(td_mpsc_try_send(ch, &first), -EAGAIN);
		ck_assert_int_eq(td_mpsc_try_recv(ch, &v), -EAGAIN);
		ck_assert_int_eq(poll_tw(&s[i], &tw[i]), TD_READY);
		ck_assert_int_eq(s[i].error, 0);
		ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
		ck_assert_int_eq(v, i);
	}
	for (int j = 0; j < N; j++)
		ck_assert_int_eq(refs(&tw[j]), 0);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_drop_send_waiting_and_granted)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 1);
	int a = 1, b = 2, c = 3, v;
	td_mpsc_send sa, sb, sc;
	test_waker ta, tb, tc;

	test_waker_init(&ta);
	test_waker_init(&tb);
	test_waker_init(&tc);
	ck_assert_int_eq(td_mpsc_try_send(ch, &a), 0);
	td_mpsc_send_init(&sa, ch, &a);
	td_mpsc_send_init(&sb, ch, &b);
	td_mpsc_send_init(&sc, ch, &c);
	ck_assert_int_eq(poll_tw(&sa, &ta), TD_PENDING);
	ck_assert_int_eq(poll_tw(&sb, &tb), TD_PENDING);
	ck_assert_int_eq(poll_tw(&sc, &tc), TD_PENDING);

	td_future_drop(&sb.base); /* waiting: withdrawn */
	ck_assert_int_eq(refs(&tb), 0);

	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0); /* slot -> sa */
	ck_assert_int_eq(wakes(&ta), 1);
	td_future_drop(&sa.base); /* granted, never polled: not sent */
	ck_assert_int_eq(wakes(&tc), 1); /* the slot passed on to sc */
	ck_assert_int_eq(wakes(&tb), 0);
	ck_assert_int_eq(poll_tw(&sc, &tc), TD_READY);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), -EAGAIN);

	/* Granted and dropped with nobody behind: the slot is free again. */
	ck_assert_int_eq(td_mpsc_try_send(ch, &a), 0);
	td_mpsc_send_init(&sa, ch, &b);
	ck_assert_int_eq(poll_tw(&sa, &ta), TD_PENDING);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	td_future_drop(&sa.base);
	ck_assert_int_eq(td_mpsc_try_send(ch, &c), 0);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
	ck_assert_int_eq(v, 3);

	/* Never polled: nothing. */
	td_mpsc_send_init(&sa, ch, &a);
	td_future_drop(&sa.base);
	ck_assert_uint_eq(td_mpsc_len(ch), 0);
	ck_assert_int_eq(refs(&ta) + refs(&tb) + refs(&tc), 0);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_drop_recv)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 4);
	int v = 5, out = 0;
	td_mpsc_recv r;
	test_waker tr;

	test_waker_init(&tr);
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_PENDING);
	td_future_drop(&r.base);
	ck_assert_int_eq(refs(&tr), 0);
	ck_assert_int_eq(td_mpsc_try_send(ch, &v), 0);
	ck_assert_int_eq(wakes(&tr), 0);
	ck_assert_uint_eq(td_mpsc_len(ch), 1); /* nothing was taken */
	td_mpsc_recv_init(&r, ch, &out);
	td_future_drop(&r.base); /* never polled */
	ck_assert_uint_eq(td_mpsc_len(ch), 1);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_senders_gone_drain_then_closed)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 4);
	int v = 1, out;
	td_mpsc_recv r;
	test_waker tr;

	test_waker_init(&tr);
	ck_assert_ptr_eq(td_mpsc_sender_clone(ch), ch);
	ck_assert_uint_eq(td_mpsc_sender_count(ch), 2);
	ck_assert_int_eq(td_mpsc_try_send(ch, &v), 0);
	td_mpsc_sender_release(ch);
	td_mpsc_sender_release(ch);
	ck_assert_uint_eq(td_mpsc_sender_count(ch), 0);
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_READY);
	ck_assert_int_eq(r.error, 0);
	ck_assert_int_eq(out, 1);
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_READY);
	ck_assert_int_eq(r.error, -EPIPE);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &out), -EPIPE);
	td_mpsc_receiver_release(ch); /* frees it */

	/* A pending recv is woken when the last sender leaves. */
	ch = td_mpsc_unbounded(sizeof(int));
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_PENDING);
	td_mpsc_sender_clone(ch);
	td_mpsc_sender_release(ch);
	ck_assert_int_eq(wakes(&tr), 0);
	td_mpsc_sender_release(ch);
	ck_assert_int_eq(wakes(&tr), 1);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_READY);
	ck_assert_int_eq(r.error, -EPIPE);
	ck_assert_int_eq(refs(&tr), 0);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_receiver_close)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 1);
	int a = 1, b = 2, out;
	td_mpsc_send sb, sc;
	td_mpsc_recv r;
	test_waker tb, tc, tr;

	test_waker_init(&tb);
	test_waker_init(&tc);
	test_waker_init(&tr);
	ck_assert_int_eq(td_mpsc_try_send(ch, &a), 0);
	td_mpsc_send_init(&sb, ch, &b);
	ck_assert_int_eq(poll_tw(&sb, &tb), TD_PENDING);
	ck_assert(!td_mpsc_is_closed(ch));
	td_mpsc_close(ch);
	ck_assert(td_mpsc_is_closed(ch));
	ck_assert_int_eq(wakes(&tb), 1);
	ck_assert_int_eq(poll_tw(&sb, &tb), TD_READY);
	ck_assert_int_eq(sb.error, -EPIPE);
	ck_assert_int_eq(td_mpsc_try_send(ch, &b), -EPIPE);
	td_mpsc_send_init(&sc, ch, &b);
	ck_assert_int_eq(poll_tw(&sc, &tc), TD_READY);
	ck_assert_int_eq(sc.error, -EPIPE);
	/* What was queued before the close still drains, then "closed"
	 * although a sender handle is alive. */
	td_mpsc_recv_init(&r, ch, &out);
	ck_assert_int_eq(poll_tw(&r, &tr), TD_READY);
	ck_assert_int_eq(r.error, 0);
	ck_assert_int_eq(out, 1);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &out), -EPIPE);
	td_mpsc_close(ch); /* idempotent */
	td_mpsc_receiver_release(ch);
	ck_assert_int_eq(td_mpsc_try_send(ch, &b), -EPIPE);
	td_mpsc_sender_release(ch); /* frees it */
	ck_assert_int_eq(refs(&tb) + refs(&tc) + refs(&tr), 0);
}
END_TEST

START_TEST(test_close_with_granted_sender)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 1);
	int a = 1, b = 2, out;
	td_mpsc_send sb;
	test_waker tb;

	test_waker_init(&tb);
	ck_assert_int_eq(td_mpsc_try_send(ch, &a), 0);
	td_mpsc_send_init(&sb, ch, &b);
	ck_assert_int_eq(poll_tw(&sb, &tb), TD_PENDING);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &out), 0); /* slot -> sb */
	td_mpsc_close(ch);
	ck_assert_int_eq(poll_tw(&sb, &tb), TD_READY);
	ck_assert_int_eq(sb.error, -EPIPE);
	ck_assert_int_eq(td_mpsc_try_recv(ch, &out), -EPIPE);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_receiver_release_discards)
{
	td_mpsc *ch = td_mpsc_unbounded(sizeof(int));
	int v = 4;

	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(td_mpsc_try_send(ch, &v), 0);
	td_mpsc_receiver_release(ch);
	ck_assert_uint_eq(td_mpsc_len(ch), 0);
	ck_assert_int_eq(td_mpsc_try_send(ch, &v), -EPIPE);
	td_mpsc_sender_release(ch);
}
END_TEST

START_TEST(test_unbounded_growth_wraps)
{
	td_mpsc *ch = td_mpsc_unbounded(sizeof(uint32_t) * 3);
	uint32_t in[3], out[3];
	uint32_t next_in = 0, next_out = 0;

	ck_assert_uint_eq(td_mpsc_capacity(ch), 0);
	/* Interleave so that the ring wraps before every growth. */
	for (int round = 0; round < 12; round++) {
		for (int i = 0; i < 7 << round / 2; i++) {
			in[0] = next_in;
			in[1] = ~next_in;
			in[2] = next_in * 7;
			next_in++;
			ck_assert_int_eq(td_mpsc_try_send(ch, in), 0);
		}
		for (int i = 0; i < 3 << round / 2; i++) {
			ck_assert_int_eq(td_mpsc_try_recv(ch, out), 0);
			ck_assert_uint_eq(out[0], next_out);
			ck_assert_uint_eq(out[1], ~next_out);
			ck_assert_uint_eq(out[2], next_out * 7);
			next_out++;
		}
	}
	ck_assert_uint_eq(td_mpsc_len(ch), next_in - next_out);
	while (td_mpsc_try_recv(ch, out) == 0) {
		ck_assert_uint_eq(out[0], next_out);
		next_out++;
	}
	ck_assert_uint_eq(next_out, next_in);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_bounded_grows_to_capacity)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 100);
	int v;

	for (int round = 0; round < 3; round++) {
		for (v = 0; v < 100; v++)
			ck_assert_int_eq(td_mpsc_try_send(ch, &v), 0);
		ck_assert_int_eq(td_mpsc_try_send(ch, &v), -EAGAIN);
		for (int i = 0; i < 37; i++) {
			ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
			ck_assert_int_eq(v, i);
		}
		for (v = 100; v < 137; v++)
			ck_assert_int_eq(td_mpsc_try_send(ch, &v), 0);
		for (int i = 37; i < 137; i++) {
			ck_assert_int_eq(td_mpsc_try_recv(ch, &v), 0);
			ck_assert_int_eq(v, i);
		}
	}
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_trace)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 2);
	int a = 11, b = 22, out = 0;
	td_mpsc_recv r;
	td_mpsc_send s;
	test_waker tw;
	td_trace *t;
	const td_backtrace *bt;

	test_waker_init(&tw);
	/* Empty channel, recv waiting. */
	td_mpsc_recv_init(&r, ch, &out);
	t = trace_poll(&r);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_CHAN_RECV);
	ck_assert_ptr_eq(bt->wait.object, ch);
	ck_assert_uint_eq(bt->wait.count, 0);
	td_trace_free(t);

	/* Space available: a traced send sends nothing. */
	td_mpsc_send_init(&s, ch, &a);
	t = trace_poll(&s);
	bt = td_trace_get(t, 0);
	ck_assert_int_eq(bt->wait.kind, TD_WAIT_CHAN_SEND);
	ck_assert_ptr_eq(bt->wait.object, ch);
	ck_assert_uint_eq(bt->wait.count, 0);
	ck_assert_uint_eq(bt->wait.value, 2);
	td_trace_free(t);
	ck_assert_uint_eq(td_mpsc_len(ch), 0);
	ck_assert_int_eq(poll_tw(&s, &tw), TD_READY);

	/* A value is queued: a traced recv takes nothing. */
	t = trace_poll(&r);
	bt = td_trace_get(t, 0);
	ck_assert_uint_eq(bt->wait.count, 1);
	td_trace_free(t);
	ck_assert_uint_eq(td_mpsc_len(ch), 1);
	ck_assert_int_eq(out, 0);

	/* Full, send waiting. */
	ck_assert_int_eq(td_mpsc_try_send(ch, &b), 0);
	td_mpsc_send_init(&s, ch, &b);
	ck_assert_int_eq(poll_tw(&s, &tw), TD_PENDING);
	t = trace_poll(&s);
	bt = td_trace_get(t, 0);
	ck_assert_uint_eq(bt->wait.count, 2);
	ck_assert_uint_eq(bt->wait.value, 2);
	td_trace_free(t);
	ck_assert_int_eq(refs(&tw), 1);

	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_int_eq(out, 11);
	/* The waiting send now holds a reserved slot; tracing keeps it. */
	t = trace_poll(&s);
	td_trace_free(t);
	ck_assert_uint_eq(td_mpsc_len(ch), 1);
	ck_assert_int_eq(poll_tw(&s, &tw), TD_READY);
	ck_assert_uint_eq(td_mpsc_len(ch), 2);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

START_TEST(test_coop_budget)
{
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 2);
	int a = 1, out = 0;
	td_mpsc_recv r;
	td_mpsc_send s;
	test_waker tw;

	test_waker_init(&tw);
	td_mpsc_send_init(&s, ch, &a);
	td_tls_budget = 0;
	ck_assert_int_eq(poll_tw(&s, &tw), TD_PENDING);
	ck_assert_int_eq(wakes(&tw), 1);
	ck_assert_uint_eq(td_mpsc_len(ch), 0);
	td_tls_budget = -1;
	ck_assert_int_eq(poll_tw(&s, &tw), TD_READY);
	td_mpsc_recv_init(&r, ch, &out);
	td_tls_budget = 0;
	ck_assert_int_eq(poll_tw(&r, &tw), TD_PENDING);
	ck_assert_int_eq(wakes(&tw), 2);
	ck_assert_uint_eq(td_mpsc_len(ch), 1);
	td_tls_budget = -1;
	ck_assert_int_eq(poll_tw(&r, &tw), TD_READY);
	ck_assert_int_eq(out, 1);
	td_mpsc_sender_release(ch);
	td_mpsc_receiver_release(ch);
}
END_TEST

/* ---- stress ------------------------------------------------------------ */

enum { PRODUCERS = 4, PER_PRODUCER = 20000 };

struct msg {
	uint32_t producer;
	uint32_t seq;
};

struct mstress {
	td_mpsc *ch;
	atomic_int errors;
};

static void *producer(void *arg)
{
	struct mstress *st = ((void **)arg)[0];
	uint32_t id = (uint32_t)(uintptr_t)((void **)arg)[1];
	unsigned seed = id * 2654435761u | 1u;
	td_mpsc_send s;
	test_waker tw;
	struct msg m = {id, 0};

	test_waker_init(&tw);
	while (m.seq < PER_PRODUCER) {
		unsigned r = rnd(&seed) % 8;
		if (r == 0) {
			if (td_mpsc_try_send(st->ch, &m) == 0)
				m.seq++;
			continue;
		}
		td_mpsc_send_init(&s, st->ch, &m);
		if (r == 1 && poll_tw(&s, &tw) == TD_PENDING) {
			/* Cancelled before READY: guaranteed not sent. */
			td_future_drop(&s.base);
			continue;
		}
		(void)poll_until_ready(&s, &tw);
		if (s.error != 0)
			atomic_fetch_add(&st->errors, 1);
		m.seq++;
	}
	if (refs(&tw))
		atomic_fetch_add(&st->errors, 1);
	td_mpsc_sender_release(st->ch);
	return NULL;
}

static void run_mpsc_stress(td_mpsc *ch)
{
	struct mstress st = {.ch = ch};
	pthread_t th[PRODUCERS];
	void *args[PRODUCERS][2];
	uint32_t next[PRODUCERS] = {0};
	struct msg m;
	td_mpsc_recv r;
	test_waker tw;
	long total = 0;

	atomic_init(&st.errors, 0);
	test_waker_init(&tw);
	for (int i = 1; i < PRODUCERS; i++)
		td_mpsc_sender_clone(ch);
	for (int i = 0; i < PRODUCERS; i++) {
		args[i][0] = &st;
		args[i][1] = (void *)(uintptr_t)i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, producer,
						args[i]), 0);
	}
	for (;;) {
		td_mpsc_recv_init(&r, ch, &m);
		(void)poll_until_ready(&r, &tw);
		if (r.error == -EPIPE)
			break;
		ck_assert_int_eq(r.error, 0);
		ck_assert_uint_lt(m.producer, PRODUCERS);
		ck_assert_uint_eq(m.seq, next[m.producer]);
		next[m.producer]++;
		total++;
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(next[i], PER_PRODUCER);
	}
	ck_assert_int_eq(total, (long)PRODUCERS * PER_PRODUCER);
	ck_assert_int_eq(atomic_load(&st.errors), 0);
	ck_assert_int_eq(refs(&tw), 0);
	td_mpsc_receiver_release(ch);
}

START_TEST(test_stress_bounded)
{
	run_mpsc_stress(td_mpsc_bounded(sizeof(struct msg), 8));
}
END_TEST

START_TEST(test_stress_capacity_one)
{
	run_mpsc_stress(td_mpsc_bounded(sizeof(struct msg), 1));
}
END_TEST

START_TEST(test_stress_unbounded)
{
	run_mpsc_stress(td_mpsc_unbounded(sizeof(struct msg)));
}
END_TEST

static Suite *mpsc_suite(void)
{
	Suite *s = suite_create("mpsc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_bounded_basic);
	tcase_add_test(tc, test_create_errors);
	tcase_add_test(tc, test_futures_and_wakes);
	tcase_add_test(tc, test_senders_fifo);
	tcase_add_test(tc, test_drop_send_waiting_and_granted);
	tcase_add_test(tc, test_drop_recv);
	tcase_add_test(tc, test_senders_gone_drain_then_closed);
	tcase_add_test(tc, test_receiver_close);
	tcase_add_test(tc, test_close_with_granted_sender);
	tcase_add_test(tc, test_receiver_release_discards);
	tcase_add_test(tc, test_unbounded_growth_wraps);
	tcase_add_test(tc, test_bounded_grows_to_capacity);
	tcase_add_test(tc, test_trace);
	tcase_add_test(tc, test_coop_budget);
	suite_add_tcase(s, tc);

	TCase *st = tcase_create("stress");
	tcase_set_timeout(st, 120);
	tcase_add_test(st, test_stress_bounded);
	tcase_add_test(st, test_stress_capacity_one);
	tcase_add_test(st, test_stress_unbounded);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	return test_run_suite(mpsc_suite());
}
