/* test_dump_late_signal.c - a busy worker that answers the stack-capture
 * signal too late must not be killed by it.
 *
 * The worker of runtime 1 spins with every signal blocked, so the dump's
 * stack request times out; the dump then asks runtime 2's busy worker.
 * When the first worker unblocks, the stale signal arrives with another
 * thread's request in place: the handler must drop it (it once chained it
 * to SIG_DFL, and the default action of a real-time signal ends the
 * process). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/dump.h"
#include "taskdump/taskdump.h"
#include "test_util.h"

typedef struct spin {
	td_future base;
	int block_signals;
	atomic_int *started;
} spin;

static td_poll spin_poll(td_future *f, td_context *cx)
{
	spin *s = (spin *)f;
	sigset_t all, old;
	(void)cx;
	sigfillset(&all);
	if (s->block_signals)
		pthread_sigmask(SIG_BLOCK, &all, &old);
	atomic_fetch_add(s->started, 1);
	uint64_t end = test_now_ms() + 800;
	while (test_now_ms() < end)
		;
	if (s->block_signals) /* the stale signal is delivered here */
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	end = test_now_ms() + 200;
	while (test_now_ms() < end)
		;
	return TD_READY;
}

static const td_future_vtable spin_vtable = {.poll = spin_poll};

START_TEST(late_stack_signal_is_dropped)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 1};
	td_runtime *r1, *r2;
	atomic_int started = 0;
	ck_assert_int_eq(td_runtime_new(&cfg, &r1), 0);
	ck_assert_int_eq(td_runtime_new(&cfg, &r2), 0);
	spin a = {{&spin_vtable}, 1, &started};
	spin b = {{&spin_vtable}, 0, &started};
	td_join_handle ha, hb;
	ck_assert_int_eq(td_spawn(r1, &a, &ha), 0);
	ck_assert_int_eq(td_spawn(r2, &b, &hb), 0);
	while (atomic_load(&started) < 2)
		usleep(1000);

	td_dump_options o = {.timeout_ms = 20, .no_symbolize = true};
	td_dump *d = NULL;
	ck_assert_int_eq(td_dump_all(&o, &d), 0);
	const td_dump_runtime *dr1 = NULL;
	for (size_t i = 0; i < d->nruntimes; i++)
		if (d->runtimes[i].id == td_runtime_id(r1))
			dr1 = &d->runtimes[i];
	ck_assert_ptr_nonnull(dr1);
	ck_assert_str_eq(dr1->workers[0].state, "busy");
	ck_assert_ptr_nonnull(dr1->workers[0].stack_error);
	td_dump_free(d);

	/* Both tasks finish - the first after taking the stale signal - and
	 * the process is still here to join them. */
	td_join ja, jb;
	td_join_init(&ja, &ha);
	td_join_init(&jb, &hb);
	ck_assert_int_eq(td_runtime_block_on(r1, &ja.base, NULL), 0);
	ck_assert_int_eq(td_runtime_block_on(r2, &jb.base, NULL), 0);
	td_runtime_free(r1);
	td_runtime_free(r2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dump_late_signal");
	TCase *tc = tcase_create("late");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, late_stack_signal_is_dropped);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
