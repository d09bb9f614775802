/* test_select.c - td_select (winner, losers, fairness, races) and td_yield. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "comb_child.h"
#include "taskdump/combinators.h"
#include "test_util.h"
#include "test_waker.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifdef TSAN
#define STRESS_ITERS 300
#else
#define STRESS_ITERS 2000
#endif

struct fixture {
	ctl_child c[3];
	td_future *kids[3];
	td_select s;
	test_waker tw;
	td_waker w;
	td_context cx;
};

static void fx_init(struct fixture *fx, bool biased)
{
	for (int i = 0; i < 3; i++) {
		ctl_init(&fx->c[i], "child");
		fx->kids[i] = &fx->c[i].base;
	}
	if (biased)
		td_select_init_biased(&fx->s, fx->kids, 3);
	else
		td_select_init(&fx->s, fx->kids, 3);
	test_waker_init(&fx->tw);
	fx->w = test_waker_make(&fx->tw);
	fx->cx = test_context(&fx->w);
}

static td_poll fx_poll(struct fixture *fx)
{
	return td_future_poll(&fx->s.base, &fx->cx);
}

static void fx_destroy(struct fixture *fx)
{
	for (int i = 0; i < 3; i++)
		ctl_destroy(&fx->c[i]);
	td_waker_drop(&fx->w);
	ck_assert_int_eq(atomic_load(&fx->tw.refs), 0);
}

/* The winner is READY and not dropped; every loser dropped exactly once. */
static void assert_outcome(struct fixture *fx, size_t winner)
{
	ck_assert_uint_eq(fx->s.winner, winner);
	ck_assert_int_eq(fx->s.error, 0);
	ck_assert_ptr_null(fx->s.shared);
	for (size_t i = 0; i < 3; i++) {
		int drops = atomic_load(&fx->c[i].drops);
		ck_assert_int_eq(drops, i == winner ? 0 : 1);
	}
	ck_assert_int_eq(atomic_load(&fx->c[winner].readies), 1);
}

START_TEST(first_ready_wins_losers_dropped)
{
	struct fixture fx;
	int polls[3];

	fx_init(&fx, false);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ck_assert_uint_eq(fx.s.winner, TD_SELECT_NONE);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(atomic_load(&fx.c[i].polls), 1);

	/* Only woken children are polled. */
	ctl_poke(&fx.c[2]);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ck_assert_int_eq(atomic_load(&fx.c[0].polls), 1);
	ck_assert_int_eq(atomic_load(&fx.c[1].polls), 1);
	ck_assert_int_eq(atomic_load(&fx.c[2].polls), 2);

	ctl_fire(&fx.c[1]);
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), 2);
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_outcome(&fx, 1);
	for (int i = 0; i < 3; i++)
		polls[i] = atomic_load(&fx.c[i].polls);

	/* Losers are never polled again, the select stays READY, and
	 * neither a late wake nor a drop of the select touches them. */
	ctl_fire(&fx.c[0]);
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	td_future_drop(&fx.s.base);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(atomic_load(&fx.c[i].polls), polls[i]);
	assert_outcome(&fx, 1);
	fx_destroy(&fx);
}
END_TEST

START_TEST(round_robin_start)
{
	struct fixture fx;

	/* First poll scans from 0: child 0 wins among ready ones. */
	fx_init(&fx, false);
	fx.c[0].ready = fx.c[2].ready = true;
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_outcome(&fx, 0);
	ck_assert_int_eq(atomic_load(&fx.c[1].polls), 0); /* never polled */
	fx_destroy(&fx);

	/* The second poll scans from 1: 1 is not woken, 2 wins over 0. */
	fx_init(&fx, false);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ctl_fire(&fx.c[0]);
	ctl_fire(&fx.c[2]);
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_outcome(&fx, 2);
	ck_assert_int_eq(atomic_load(&fx.c[0].polls), 1);
	fx_destroy(&fx);

	/* The third from 2, wrapping to 0 and 1. */
	fx_init(&fx, false);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ctl_fire(&fx.c[0]);
	ctl_fire(&fx.c[1]);
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_outcome(&fx, 0);
	fx_destroy(&fx);
}
END_TEST

START_TEST(biased_scans_in_order)
{
	struct fixture fx;

	fx_init(&fx, true);
	ck_assert(fx.s.biased);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ctl_fire(&fx.c[2]);
	ctl_fire(&fx.c[1]);
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_outcome(&fx, 1);
	ck_assert_int_eq(atomic_load(&fx.c[2].polls), 1);
	fx_destroy(&fx);
}
END_TEST

START_TEST(drop_pending_drops_all_once)
{
	struct fixture fx;
	td_waker kept;

	fx_init(&fx, false);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	kept = ctl_clone_waker(&fx.c[1]);
	td_future_drop(&fx.s.base);
	td_future_drop(&fx.s.base);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(atomic_load(&fx.c[i].drops), 1);
	ck_assert_uint_eq(fx.s.winner, TD_SELECT_NONE);
	ck_assert_int_eq(atomic_load(&fx.tw.refs), 1);
	td_waker_wake(&kept); /* stale: harmless, frees the block */
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), 0);
	fx_destroy(&fx);

	/* Never polled: still every child dropped once. */
	fx_init(&fx, false);
	td_future_drop(&fx.s.base);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(atomic_load(&fx.c[i].drops), 1);
	fx_destroy(&fx);
}
END_TEST

START_TEST(empty_select_fails)
{
	td_select s;
	td_waker w = td_waker_noop();
	td_context cx = test_context(&w);

	td_select_init(&s, NULL, 0);
	ck_assert_int_eq(td_future_poll(&s.base, &cx), TD_READY);
	ck_assert_uint_eq(s.winner, TD_SELECT_NONE);
	ck_assert_int_eq(s.error, -EINVAL);
	td_future_drop(&s.base);
}
END_TEST

/* ---- yield ----------------------------------------------------------- */

START_TEST(yield_wakes_once_then_ready)
{
	td_yield y;
	test_waker tw;
	td_waker w;
	td_context cx;

	test_waker_init(&tw);
	w = test_waker_make(&tw);
	cx = test_context(&w);
	td_yield_init(&y);
	ck_assert_int_eq(td_future_poll(&y.base, &cx), TD_PENDING);
	ck_assert_int_eq(atomic_load(&tw.wakes), 1);
	ck_assert_int_eq(atomic_load(&tw.refs), 1); /* nothing kept */
	ck_assert_int_eq(td_future_poll(&y.base, &cx), TD_READY);
	ck_assert_int_eq(atomic_load(&tw.wakes), 1);
	td_future_drop(&y.base); /* no-op */

	/* Re-initialised, it yields again. */
	td_yield_init(&y);
	ck_assert_int_eq(td_future_poll(&y.base, &cx), TD_PENDING);
	ck_assert_int_eq(atomic_load(&tw.wakes), 2);
	td_future_drop(&y.base);
	td_waker_drop(&w);
	ck_assert_int_eq(atomic_load(&tw.refs), 0);
}
END_TEST

/* ---- races ----------------------------------------------------------- */

struct racer {
	ctl_child *c;
	unsigned seed;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	for (unsigned spin = rand_r(&r->seed) % 500; spin; spin--)
		__asm__ volatile("" ::: "memory");
	if (rand_r(&r->seed) % 2)
		ctl_poke(r->c);
	ctl_fire(r->c);
	return NULL;
}

START_TEST(cross_thread_race_single_winner)
{
	unsigned seed = 777;

	for (int iter = 0; iter < STRESS_ITERS; iter++) {
		struct fixture fx;
		pthread_t th[3];
		struct racer r[3];
		int polls[3];

		fx_init(&fx, iter % 5 == 0);
		for (int i = 0; i < 3; i++)
			r[i] = (struct racer){&fx.c[i], rand_r(&seed)};
		int before = atomic_load(&fx.tw.wakes);
		td_poll p = fx_poll(&fx);
		ck_assert_int_eq(p, TD_PENDING);
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, racer_main, &r[i]);
		for (;;) {
			ck_assert_msg(wait_change(&fx.tw.wakes, before),
				      "lost wake-up");
			before = atomic_load(&fx.tw.wakes);
			if (fx_poll(&fx) == TD_READY)
				break;
		}
		size_t w = fx.s.winner;
		ck_assert_uint_lt(w, 3);
		for (int i = 0; i < 3; i++)
			polls[i] = atomic_load(&fx.c[i].polls);
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		ck_assert_int_eq(fx_poll(&fx), TD_READY);
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(atomic_load(&fx.c[i].polls), polls[i]);
		assert_outcome(&fx, w);
		fx_destroy(&fx);
	}
}
END_TEST

static Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, first_ready_wins_losers_dropped);
	tcase_add_test(tc, round_robin_start);
	tcase_add_test(tc, biased_scans_in_order);
	tcase_add_test(tc, drop_pending_drops_all_once);
	tcase_add_test(tc, empty_select_fails);
	tcase_add_test(tc, yield_wakes_once_then_ready);
	suite_add_tcase(s, tc);

	TCase *race = tcase_create("race");
	tcase_set_timeout(race, 120);
	tcase_add_test(race, cross_thread_race_single_winner);
	suite_add_tcase(s, race);
	return s;
}

int main(void)
{
	return test_run_suite(select_suite());
}
