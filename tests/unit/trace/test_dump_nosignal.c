/* test_dump_nosignal.c - a dump sends no signal to a busy worker, and
 * still gets its native stack.
 *
 * The worker spins in its poll with every signal blocked.  A stack taken
 * by signalling the thread (as the runtime once did, with SIGRTMIN+7)
 * would get no answer - "the thread did not answer the stack signal" -
 * and would leave the signal pending, to be delivered when the program
 * unblocks it: a handler of the program's for that signal would run for
 * nothing, and a non-restartable call would be cut short.  The stack is
 * now sampled (a perf event) without the thread noticing: the dump has a
 * stack through the spinning function, and nothing is pending on the
 * thread afterwards.  Where the kernel forbids perf events the dump says
 * so instead - and still nothing is pending.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/dump.h"
#include "taskdump/taskdump.h"
#include "test_util.h"

typedef struct spin {
	td_future base;
	atomic_int *started;
	atomic_int *stop;
	atomic_int *pending; /* signals pending on the thread at the end */
} spin;

__attribute__((noinline)) static void spin_with_signals_blocked(spin *s)
{
	while (!atomic_load_explicit(s->stop, memory_order_relaxed))
		__asm__ volatile("pause" ::: "memory");
}

static td_poll spin_poll(td_future *f, td_context *cx)
{
	spin *s = (spin *)f;
	sigset_t all, old, pending;
	(void)cx;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	atomic_store(s->started, 1);
	spin_with_signals_blocked(s);
	sigemptyset(&pending);
	sigpending(&pending);
	int n = 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&pending, sig) == 1)
			n++;
	atomic_store(s->pending, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return TD_READY;
}

static const td_future_vtable spin_vtable = {.poll = spin_poll};

START_TEST(busy_worker_gets_no_signal)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 1};
	td_runtime *rt;
	atomic_int started = 0, stop = 0, pending = -1;
	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	spin proto = {{&spin_vtable}, &started, &stop, &pending};
	td_join_handle h;
	ck_assert_int_eq(td_spawn(rt, &proto, &h), 0);
	ck_assert(fx_wait_count(&started, 1, 20000));

	td_dump *d = NULL;
	ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
	fx_print(d, "nosignal");
	const td_dump_worker *w = &fx_only_runtime(d)->workers[0];
	ck_assert_str_eq(w->state, "busy");
	if (w->stack_error) {
		/* No perf events here: the reason names them. */
		ck_assert_msg(strstr(w->stack_error, "perf"),
			      "stack error: %s", w->stack_error);
	} else {
		ck_assert_msg(fx_frames_contain(w->stack, w->nstack,
						"spin_with_signals_blocked"),
			      "stack without the spinning function "
			      "(innermost %s)",
			      w->nstack ? w->stack[0].function : "-");
		ck_assert(fx_frames_contain(w->stack, w->nstack,
					    "spin_poll"));
		ck_assert_ptr_null(w->syscall);
	}
	td_dump_free(d);

	atomic_store(&stop, 1);
	td_join j;
	td_join_init(&j, &h);
	ck_assert_int_eq(td_runtime_block_on(rt, &j.base, NULL), 0);
	ck_assert_msg(atomic_load(&pending) == 0,
		      "%d signal(s) left pending on the busy worker",
		      atomic_load(&pending));
	td_runtime_free(rt);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dump_nosignal");
	TCase *tc = tcase_create("nosignal");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, busy_worker_gets_no_signal);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
