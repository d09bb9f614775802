/* test_join_all.c - td_join_all: per-child wakers, completion, drop, races. */
#include <check.h>
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

/* Three ctl children, a join_all over them and a counting parent waker. */
struct fixture {
	ctl_child c[3];
	td_future *kids[3];
	td_join_all j;
	test_waker tw;
	td_waker w;
	td_context cx;
};

static void fx_init(struct fixture *fx)
{
	static const char *const names[3] = {"child0", "child1", "child2"};

	for (int i = 0; i < 3; i++) {
		ctl_init(&fx->c[i], names[i]);
		fx->kids[i] = &fx->c[i].base;
	}
	td_join_all_init(&fx->j, fx->kids, 3);
	test_waker_init(&fx->tw);
	fx->w = test_waker_make(&fx->tw);
	fx->cx = test_context(&fx->w);
}

static td_poll fx_poll(struct fixture *fx)
{
	return td_future_poll(&fx->j.base, &fx->cx);
}

static void fx_destroy(struct fixture *fx)
{
	for (int i = 0; i < 3; i++)
		ctl_destroy(&fx->c[i]);
	td_waker_drop(&fx->w);
	ck_assert_int_eq(atomic_load(&fx->tw.refs), 0);
}

static void assert_polls(struct fixture *fx, int p0, int p1, int p2)
{
	ck_assert_int_eq(atomic_load(&fx->c[0].polls), p0);
	ck_assert_int_eq(atomic_load(&fx->c[1].polls), p1);
	ck_assert_int_eq(atomic_load(&fx->c[2].polls), p2);
}

START_TEST(only_woken_children_are_repolled)
{
	struct fixture fx;

	fx_init(&fx);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	assert_polls(&fx, 1, 1, 1);
	ck_assert_int_eq(fx.j.remaining, 3);

	/* Nothing woken: a poll polls no child. */
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	assert_polls(&fx, 1, 1, 1);
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), 0);

	/* Child 1 completes: the task is woken once, only child 1 polled. */
	ctl_fire(&fx.c[1]);
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), 1);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	assert_polls(&fx, 1, 2, 1);
	ck_assert_int_eq(fx.j.remaining, 2);

	/* A spurious wake of child 0 re-polls child 0 only. */
	ctl_poke(&fx.c[0]);
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), 2);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	assert_polls(&fx, 2, 2, 1);

	/* Finished child 1 is never polled again, even if its waker is
	 * woken through a clone kept somewhere. */
	ctl_fire(&fx.c[0]);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	assert_polls(&fx, 3, 2, 1);
	ck_assert_int_eq(fx.j.remaining, 1);

	ctl_fire(&fx.c[2]);
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_polls(&fx, 3, 2, 2);
	ck_assert_int_eq(fx.j.remaining, 0);
	ck_assert_int_eq(fx.j.error, 0);
	ck_assert_ptr_null(fx.j.shared);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(atomic_load(&fx.c[i].readies), 1);
		ck_assert_int_eq(atomic_load(&fx.c[i].drops), 0);
	}

	/* Polled again after READY: READY, no child touched; drop: no-op. */
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_polls(&fx, 3, 2, 2);
	td_future_drop(&fx.j.base);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(atomic_load(&fx.c[i].drops), 0);
	fx_destroy(&fx);
}
END_TEST

START_TEST(ready_children_finish_in_one_poll)
{
	struct fixture fx;

	fx_init(&fx);
	for (int i = 0; i < 3; i++)
		fx.c[i].ready = true;
	ck_assert_int_eq(fx_poll(&fx), TD_READY);
	assert_polls(&fx, 1, 1, 1);
	fx_destroy(&fx);
}
END_TEST

START_TEST(empty_join_all_is_ready)
{
	td_join_all j;
	test_waker tw;
	td_waker w;
	td_context cx;

	test_waker_init(&tw);
	w = test_waker_make(&tw);
	cx = test_context(&w);
	td_join_all_init(&j, NULL, 0);
	ck_assert_int_eq(td_future_poll(&j.base, &cx), TD_READY);
	ck_assert_int_eq(j.error, 0);
	td_future_drop(&j.base);
	td_waker_drop(&w);
	ck_assert_int_eq(atomic_load(&tw.refs), 0);
}
END_TEST

START_TEST(new_parent_waker_replaces_the_old)
{
	struct fixture fx;
	test_waker tw2;
	td_waker w2;
	td_context cx2;

	fx_init(&fx);
	test_waker_init(&tw2);
	w2 = test_waker_make(&tw2);
	cx2 = test_context(&w2);

	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ck_assert_int_eq(atomic_load(&fx.tw.refs), 2); /* ours + stored */
	ck_assert_int_eq(td_future_poll(&fx.j.base, &cx2), TD_PENDING);
	ck_assert_int_eq(atomic_load(&fx.tw.refs), 1); /* old one dropped */
	ck_assert_int_eq(atomic_load(&tw2.refs), 2);

	ctl_poke(&fx.c[0]);
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), 0);
	ck_assert_int_eq(atomic_load(&tw2.wakes), 1);

	td_future_drop(&fx.j.base);
	td_waker_drop(&w2);
	ck_assert_int_eq(atomic_load(&tw2.refs), 0);
	fx_destroy(&fx);
}
END_TEST

START_TEST(drop_pending_drops_unfinished_once)
{
	struct fixture fx;
	td_waker kept;

	fx_init(&fx);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	ctl_fire(&fx.c[1]);
	ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
	int wakes = atomic_load(&fx.tw.wakes);

	/* A leaf somewhere keeps a clone of child 0's waker. */
	kept = ctl_clone_waker(&fx.c[0]);
	ck_assert_ptr_nonnull(kept.vtable);

	td_future_drop(&fx.j.base);
	ck_assert_int_eq(atomic_load(&fx.c[0].drops), 1);
	ck_assert_int_eq(atomic_load(&fx.c[1].drops), 0); /* finished */
	ck_assert_int_eq(atomic_load(&fx.c[2].drops), 1);
	ck_assert_ptr_null(fx.j.shared);
	/* The stored parent waker was released with the join_all. */
	ck_assert_int_eq(atomic_load(&fx.tw.refs), 1);

	/* A second drop does nothing. */
	td_future_drop(&fx.j.base);
	ck_assert_int_eq(atomic_load(&fx.c[0].drops), 1);
	ck_assert_int_eq(atomic_load(&fx.c[2].drops), 1);

	/* Waking the stale clone is harmless (ASan: no use after free) and
	 * reaches nobody; dropping it frees the block (LSan: no leak). */
	td_waker_wake_by_ref(&kept);
	td_waker copy = td_waker_clone(&kept);
	td_waker_wake(&copy);
	td_waker_wake(&kept);
	ck_assert_int_eq(atomic_load(&fx.tw.wakes), wakes);
	fx_destroy(&fx);
}
END_TEST

START_TEST(drop_never_polled_drops_all)
{
	struct fixture fx;

	fx_init(&fx);
	td_future_drop(&fx.j.base);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(atomic_load(&fx.c[i].drops), 1);
		ck_assert_int_eq(atomic_load(&fx.c[i].polls), 0);
	}
	td_future_drop(&fx.j.base);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(atomic_load(&fx.c[i].drops), 1);
	fx_destroy(&fx);
}
END_TEST

START_TEST(yield_child_wakes_only_itself)
{
	td_yield y;
	ctl_child c;
	td_future *kids[2] = {&y.base, &c.base};
	td_join_all j;
	test_waker tw;
	td_waker w;
	td_context cx;

	td_yield_init(&y);
	ctl_init(&c, "ctl");
	td_join_all_init(&j, kids, 2);
	test_waker_init(&tw);
	w = test_waker_make(&tw);
	cx = test_context(&w);

	ck_assert_int_eq(td_future_poll(&j.base, &cx), TD_PENDING);
	ck_assert_int_eq(atomic_load(&tw.wakes), 1); /* the yield's */
	ck_assert_int_eq(td_future_poll(&j.base, &cx), TD_PENDING);
	ck_assert_int_eq(j.remaining, 1);
	ck_assert_int_eq(atomic_load(&c.polls), 1); /* not re-polled */
	ck_assert_int_eq(atomic_load(&tw.wakes), 1);
	ctl_fire(&c);
	ck_assert_int_eq(td_future_poll(&j.base, &cx), TD_READY);
	ctl_destroy(&c);
	td_waker_drop(&w);
	ck_assert_int_eq(atomic_load(&tw.refs), 0);
}
END_TEST

/* ---- races ----------------------------------------------------------- */

struct racer {
	ctl_child *c;
	atomic_bool *go;
	unsigned seed;
	int pokes;
};

static void spin(unsigned *seed, unsigned max)
{
	for (unsigned n = rand_r(seed) % max; n; n--)
		__asm__ volatile("" ::: "memory");
}

/* Wait for the start signal (given right before a poll), then poke and
 * fire the child after a random delay, to land inside that poll. */
static void *racer_main(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(r->go))
		sched_yield();
	for (int i = 0; i < r->pokes; i++) {
		spin(&r->seed, 300);
		ctl_poke(r->c);
	}
	spin(&r->seed, 600);
	ctl_fire(r->c);
	return NULL;
}

/* Poll until READY; after every PENDING a wake must come (the wake count
 * is read before the poll, so a wake during the poll counts). */
static int poll_to_completion(td_future *f, td_context *cx, test_waker *tw)
{
	int polls = 0;

	for (;;) {
		int before = atomic_load(&tw->wakes);

		polls++;
		if (td_future_poll(f, cx) == TD_READY)
			return polls;
		ck_assert_msg(wait_change(&tw->wakes, before),
			      "lost wake-up after poll %d", polls);
	}
}

START_TEST(cross_thread_wakes_never_lost)
{
	unsigned seed = 12345;

	for (int iter = 0; iter < STRESS_ITERS; iter++) {
		struct fixture fx;
		pthread_t th[3];
		struct racer r[3];

		atomic_bool go;

		fx_init(&fx);
		atomic_init(&go, false);
		/* 1 to 3 racing children; the others are ready from the
		 * start, so that a single late wake decides the outcome. */
		int nracers = 1 + iter % 3;
		for (int i = 0; i < 3; i++) {
			r[i] = (struct racer){&fx.c[i], &go, rand_r(&seed),
					      (int)(rand_r(&seed) % 3)};
			if (i < nracers)
				pthread_create(&th[i], NULL, racer_main, &r[i]);
			else
				ctl_fire(&fx.c[i]);
		}
		/* In half the rounds, let the first poll happen undisturbed
		 * and race with the later ones. */
		int before = atomic_load(&fx.tw.wakes);
		if (iter % 4 < 2)
			atomic_store(&go, true);
		td_poll p = fx_poll(&fx);
		atomic_store(&go, true);
		if (p == TD_PENDING) {
			ck_assert_msg(wait_change(&fx.tw.wakes, before),
				      "lost wake-up after the first poll");
			poll_to_completion(&fx.j.base, &fx.cx, &fx.tw);
		}
		for (int i = 0; i < nracers; i++)
			pthread_join(th[i], NULL);
		ck_assert_int_eq(fx.j.remaining, 0);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(atomic_load(&fx.c[i].readies), 1);
			ck_assert_int_eq(atomic_load(&fx.c[i].drops), 0);
		}
		fx_destroy(&fx);
	}
}
END_TEST

struct stale_waker {
	td_waker w;
	atomic_bool stop;
	atomic_int wakes;
};

static void *stale_main(void *arg)
{
	struct stale_waker *s = arg;

	while (!atomic_load(&s->stop)) {
		td_waker c = td_waker_clone(&s->w);

		td_waker_wake_by_ref(&s->w);
		td_waker_wake(&c);
		atomic_fetch_add(&s->wakes, 1);
	}
	td_waker_wake(&s->w); /* the last reference: frees the block */
	return NULL;
}

START_TEST(stale_wakes_race_with_drop)
{
	for (int iter = 0; iter < STRESS_ITERS / 4; iter++) {
		struct fixture fx;
		struct stale_waker s;
		pthread_t th;

		fx_init(&fx);
		ck_assert_int_eq(fx_poll(&fx), TD_PENDING);
		s.w = ctl_clone_waker(&fx.c[iter % 3]);
		atomic_init(&s.stop, false);
		atomic_init(&s.wakes, 0);
		pthread_create(&th, NULL, stale_main, &s);
		/* Let some wakes through, poll in between, then drop. */
		int seen = atomic_load(&s.wakes);
		wait_change(&s.wakes, seen);
		(void)fx_poll(&fx);
		if (iter % 2)
			td_future_drop(&fx.j.base);
		else {
			for (int i = 0; i < 3; i++)
				ctl_fire(&fx.c[i]);
			/* Completes (the woken children are polled). */
			while (fx_poll(&fx) != TD_READY)
				;
		}
		seen = atomic_load(&s.wakes);
		wait_change(&s.wakes, seen);
		atomic_store(&s.stop, true);
		pthread_join(th, NULL);
		fx_destroy(&fx);
	}
}
END_TEST

static Suite *join_all_suite(void)
{
	Suite *s = suite_create("join_all");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, only_woken_children_are_repolled);
	tcase_add_test(tc, ready_children_finish_in_one_poll);
	tcase_add_test(tc, empty_join_all_is_ready);
	tcase_add_test(tc, new_parent_waker_replaces_the_old);
	tcase_add_test(tc, drop_pending_drops_unfinished_once);
	tcase_add_test(tc, drop_never_polled_drops_all);
	tcase_add_test(tc, yield_child_wakes_only_itself);
	suite_add_tcase(s, tc);

	TCase *race = tcase_create("race");
	tcase_set_timeout(race, 120);
	tcase_add_test(race, cross_thread_wakes_never_lost);
	tcase_add_test(race, stale_wakes_race_with_drop);
	suite_add_tcase(s, race);
	return s;
}

int main(void)
{
	return test_run_suite(join_all_suite());
}
