/* test_driver_handoff.c - a worker stuck in a poll does not stall the
 * timers of the others.
 *
 * The driver (epoll + timers) is held by whichever thread parks in it; a
 * thread that parks while another holds it sleeps on its futex.  If the
 * holder then leaves the driver to poll a task that blocks its thread, the
 * timers used to wait for that task: nobody else ever took the driver
 * (seen: a 5 ms timer of a block_on future late by the whole 6 s of a
 * sleep() in another task's poll).
 *
 * The race is made certain here: the test itself holds the driver while
 * both workers park (so both sleep on their futexes, as driver waiters),
 * a task that blocks its worker for BLOCK_MS is started, and the test
 * releases the driver the way a holder does.  A timer registered before
 * the release (a sleeping task), or after it (the block_on future's own
 * sleep), must then fire in time - long before the blocked task returns.
 */
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "sched/flavor.h"
#include "sched/park.h"
#include "sched/runtime_impl.h"
#include "taskdump/runtime.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define BLOCK_MS 4000
#define TIMER_MS 5

typedef struct blocker {
	td_future base;
	atomic_int *entered;
} blocker;

static td_poll blocker_poll(td_future *f, td_context *cx)
{
	(void)cx;
	atomic_store(((blocker *)f)->entered, 1);
	usleep(BLOCK_MS * 1000);
	return TD_READY;
}

static const td_future_vtable blocker_vt = {.poll = blocker_poll};

typedef struct napper {
	td_future base;
	td_async as;
	td_sleep nap;
	unsigned ms;
} napper;

static td_poll napper_poll(td_future *f, td_context *cx)
{
	napper *n = (napper *)f;
	TD_BEGIN(&n->as);
	td_sleep_init(&n->nap, n->ms);
	TD_AWAIT(&n->as, &n->nap, cx);
	TD_END(&n->as);
}

static void napper_drop(td_future *f)
{
	td_async_drop(&((napper *)f)->as);
}

static const td_future_vtable napper_vt = {.poll = napper_poll,
					   .drop = napper_drop};

static void wait_ms(unsigned ms)
{
	usleep(ms * 1000);
}

/* Hold the driver with both workers asleep on their futexes. */
static void hold_driver(td_runtime *rt)
{
	uint64_t end = test_now_ms() + 20000;
	while (!td_driver_try_lock(rt)) {
		/* A worker sits in epoll: make it come out and let go.  It
		 * takes the driver back as soon as it finds nothing to do, so
		 * try at once and often (sleeping between tries lost every
		 * race on a loaded machine). */
		rt->fops->unpark_all(rt);
		bool got = false;
		for (int k = 0; k < 20000 && !got; k++) {
			got = td_driver_try_lock(rt);
			if (!got)
				sched_yield();
		}
		if (got)
			break;
		ck_assert_msg(test_now_ms() < end, "never got the driver");
	}
	while (atomic_load(&rt->driver_waiters) < rt->nworkers) {
		ck_assert_msg(test_now_ms() < end, "workers did not park: %u",
			      atomic_load(&rt->driver_waiters));
		wait_ms(1);
	}
}

/* Start a task that blocks its worker, with the driver still held. */
static td_join_handle start_blocker(td_runtime *rt, atomic_int *entered)
{
	blocker b = {.base = {&blocker_vt}, .entered = entered};
	td_join_handle h;
	ck_assert_int_eq(td_spawn(rt, &b, &h), 0);
	uint64_t end = test_now_ms() + 20000;
	while (!atomic_load(entered)) {
		ck_assert(test_now_ms() < end);
		wait_ms(1);
	}
	return h;
}

static void join(td_runtime *rt, td_join_handle *h)
{
	td_join j;
	td_join_init(&j, h);
	ck_assert_int_eq(td_runtime_block_on(rt, &j.base, NULL), 0);
}

/* A timer registered before the driver is let go: the holder's release
 * hands the driver on. */
START_TEST(timer_armed_before_release_fires)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_runtime *rt;
	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	hold_driver(rt);
	atomic_int entered = 0;
	td_join_handle hb = start_blocker(rt, &entered);
	/* A task's timer, registered while nobody watches the driver. */
	napper n = {.base = {&napper_vt}, .ms = TIMER_MS};
	td_join_handle hn;
	uint64_t t0 = test_now_ms();
	ck_assert_int_eq(td_spawn(rt, &n, &hn), 0);
	wait_ms(50); /* the other worker ran it: the timer is armed */
	td_driver_unlock(rt);
	join(rt, &hn);
	uint64_t took = test_now_ms() - t0;
	ck_assert_msg(took < BLOCK_MS / 2,
		      "a %d ms timer fired after %llu ms, while a worker was "
		      "blocked for %d ms", TIMER_MS, (unsigned long long)took,
		      BLOCK_MS);
	join(rt, &hb);
	td_runtime_free(rt);
}
END_TEST

/* A timer registered after the driver was let go by a holder that saw
 * nothing to watch: the registration wakes a driver waiter. */
START_TEST(timer_armed_after_release_fires)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_runtime *rt;
	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	hold_driver(rt);
	atomic_int entered = 0;
	td_join_handle hb = start_blocker(rt, &entered);
	td_driver_unlock(rt);
	wait_ms(20);
	/* The block_on future's own timer. */
	napper n = {.base = {&napper_vt}, .ms = TIMER_MS};
	uint64_t t0 = test_now_ms();
	ck_assert_int_eq(td_runtime_block_on(rt, &n.base, NULL), 0);
	uint64_t took = test_now_ms() - t0;
	ck_assert_msg(took < BLOCK_MS / 2,
		      "a %d ms timer fired after %llu ms, while a worker was "
		      "blocked for %d ms", TIMER_MS, (unsigned long long)took,
		      BLOCK_MS);
	join(rt, &hb);
	td_runtime_free(rt);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sched_driver_handoff");
	TCase *tc = tcase_create("handoff");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, timer_armed_before_release_fires);
	tcase_add_test(tc, timer_armed_after_release_fires);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
