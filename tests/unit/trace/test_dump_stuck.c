/* test_dump_stuck.c - dumps while a thread is stuck in a long poll.
 *
 * A thread that does not reach a safe point within the grace period is
 * reported busy - the task it polls, for how long, its native stack - and
 * the others are released as soon as the tasks are traced, long before
 * the dump's deadline (opts.timeout_ms).
 *
 * multi-thread (2 workers): a task spins (a busy loop, no await) for up to
 *   5 s on one worker.  A dump with timeout_ms = 500 must finish in well
 *   under 2 s, show that worker busy with that task, a native stack
 *   through the spinning function, and every other task traced.
 * current-thread: the same task stuck on the runtime's only thread: the
 *   dump returns, reports the running task and lists every other task
 *   (and the block_on future) untraced, with the reason.
 * block_on: the block_on future itself stuck in its poll, on both flavors.
 * After the spin ends, a dump finds every thread paused promptly and every
 * task traced: the timed-out round left nothing behind.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define SPIN_MS 5000u
#define NIDLE 4
#define HOUR_MS (3600u * 1000u)

struct shared {
	atomic_int spinning;
	atomic_int stop;
	atomic_uint_fast64_t spin_start;
};

/* The busy loop: no await, no call in the hot path (a native stack taken
 * by frame pointers loses the caller of a function interrupted before its
 * frame is set up: keep such moments rare), the clock read now and then. */
__attribute__((noinline)) static void spin_busy_loop(struct shared *sh)
{
	uint64_t end = test_now_ms() + SPIN_MS;

	atomic_store(&sh->spin_start, test_now_ms());
	atomic_store(&sh->spinning, 1);
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		if (i % 65536 == 0 && test_now_ms() >= end)
			break;
		__asm__ volatile("pause" ::: "memory");
	}
}

typedef struct stuck {
	td_future base;
	struct shared *sh;
} stuck;

static td_poll stuck_poll(td_future *f, td_context *cx)
{
	(void)cx;
	spin_busy_loop(((stuck *)f)->sh);
	return TD_READY;
}

static const td_future_vtable stuck_vt = {.poll = stuck_poll};

typedef struct idler {
	td_future base;
	td_async as;
	td_sleep nap;
} idler;

static td_poll idler_poll(td_future *f, td_context *cx)
{
	idler *p = (idler *)f;
	TD_BEGIN(&p->as);
	td_sleep_init(&p->nap, HOUR_MS);
	TD_AWAIT(&p->as, &p->nap, cx);
	TD_END(&p->as);
}

static void idler_drop(td_future *f)
{
	td_async_drop(&((idler *)f)->as);
}

static const td_future_vtable idler_vt = {.poll = idler_poll,
					  .drop = idler_drop};

struct ids {
	uint64_t v[NIDLE];
};

static bool idlers_parked(const td_dump *d, void *arg)
{
	return fx_tasks_idle(fx_only_runtime(d), ((struct ids *)arg)->v,
			     NIDLE, 1);
}

static void spawn_idlers(td_runtime *rt, struct ids *ids)
{
	for (int k = 0; k < NIDLE; k++) {
		idler p = {.base = {&idler_vt}};
		td_join_handle h;
		ck_assert_int_eq(td_spawn_named(rt, "idler", &p, &h), 0);
		ids->v[k] = td_join_handle_id(&h);
		td_join_handle_detach(&h);
	}
	td_dump_options o = {.no_symbolize = true, .timeout_ms = 5000};
	td_dump_free(fx_dump_until(rt, &o, idlers_parked, ids, 20000,
				   "idlers parked"));
}

/* The mode of the test case's dumps: each flavor is run in both (loop
 * index _i: flavor _i % FX_NFLAVORS, incremental first). */
static td_dump_mode test_mode;
static const char *others_state; /* the threads that are not stuck */

static int set_case(int i)
{
	test_mode = i < FX_NFLAVORS ? TD_DUMP_MODE_INCREMENTAL
				    : TD_DUMP_MODE_STOP;
	others_state = test_mode == TD_DUMP_MODE_STOP ? "paused" : "running";
	return i % FX_NFLAVORS;
}

/* Dump with a 500 ms deadline; returns the dump and its duration.  The
 * grace period is 150 ms, not 10: on a loaded machine a parked worker
 * woken for the dump may take longer than 10 ms to reach its safe point,
 * and would be reported busy too (as designed: only one must be here). */
static td_dump *dump_stuck(td_runtime *rt, uint64_t *ms)
{
	td_dump_options o = {.timeout_ms = 500, .grace_ms = 150,
			     .mode = test_mode};
	td_dump *d = NULL;
	uint64_t t0 = test_now_ms();

	ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
	*ms = test_now_ms() - t0;
	fx_check_consistent(d, "stuck dump");
	fx_print(d, "stuck dump");
	ck_assert_msg(*ms < 2000, "the dump took %llu ms",
		      (unsigned long long)*ms);
	/* The stuck thread held nobody up: the others were released after
	 * the grace period and the tracing, far before the deadline (they
	 * used to wait for it). */
	ck_assert_msg(d->pause_ms < 400, "the others were paused %.1f ms "
		      "(deadline 500 ms)", d->pause_ms);
	return d;
}

/* The busy worker: its task, its time, its stack through the loop. */
static void check_busy_worker(const td_dump_worker *w, uint64_t task_id,
			      struct shared *sh, uint64_t dump_start,
			      uint64_t dump_end)
{
	ck_assert_str_eq(w->state, "busy");
	ck_assert(!w->paused);
	ck_assert_int_gt(w->tid, 0);
	ck_assert_uint_eq(w->task_id, task_id);
	uint64_t spun = dump_end - atomic_load(&sh->spin_start);
	uint64_t before = dump_start - atomic_load(&sh->spin_start);
	ck_assert_msg(w->busy_ms + 20 >= before && w->busy_ms <= spun + 20,
		     "busy worker %u: busy_ms=%llu, spinning %llu to %llu ms",
		     w->index, (unsigned long long)w->busy_ms,
		     (unsigned long long)before, (unsigned long long)spun);
	ck_assert_msg(w->stack_error == NULL, "no stack: %s", w->stack_error);
	ck_assert_uint_gt(w->nstack, 0);
	int loop = -1, outer = -1;
	for (size_t i = 0; i < w->nstack; i++) {
		if (loop < 0 && strcmp(w->stack[i].function, "spin_busy_loop") == 0)
			loop = (int)i;
		if (outer < 0 && strcmp(w->stack[i].function, "stuck_poll") == 0)
			outer = (int)i;
	}
	ck_assert_msg(loop >= 0, "native stack without spin_busy_loop "
		      "(innermost: %s)", w->stack[0].function);
	/* Innermost first: the loop, then (further out) its caller. */
	ck_assert_msg(outer > loop, "stuck_poll at %d, spin_busy_loop at %d",
		      outer, loop);
	ck_assert_str_eq(fx_basename(w->stack[loop].file), "test_dump_stuck.c");
	ck_assert_int_gt(w->stack[loop].line, 0);
}

/* After the spin: everyone stops at once, everything is traced. */
static void check_recovered(td_runtime *rt, const struct ids *ids)
{
	td_dump *d = NULL;
	td_dump_options o = {.timeout_ms = 2000, .grace_ms = 1000,
			     .mode = test_mode};

	ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
	fx_check_consistent(d, "after the spin");
	ck_assert_msg(d->pause_ms < 900.0, "pause %.3f ms", d->pause_ms);
	const td_dump_runtime *r = fx_only_runtime(d);
	for (size_t w = 0; w < r->nworkers; w++)
		ck_assert_str_eq(r->workers[w].state, others_state);
	ck_assert_uint_eq(r->traced, r->ntasks);
	ck_assert(fx_tasks_idle(r, ids->v, NIDLE, 1));
	for (int k = 0; k < NIDLE; k++)
		ck_assert_uint_eq(fx_find_task(r, ids->v[k])->polls, 1);
	td_dump_free(d);
}

static bool handle_done(void *arg)
{
	return td_join_handle_is_finished(arg);
}

START_TEST(test_stuck_task)
{
	struct shared sh;
	struct ids ids;
	int fl = set_case(_i);
	bool mt = fx_flavors[fl].flavor == TD_FLAVOR_MULTI_THREAD;
	td_runtime *rt = fx_runtime_new(fl, "stuck");
	fx_driver *drv = fx_driver_start(rt);
	td_join_handle h;

	memset(&sh, 0, sizeof(sh));
	spawn_idlers(rt, &ids);
	stuck s = {.base = {&stuck_vt}, .sh = &sh};
	ck_assert_int_eq(td_spawn_named(rt, "stuck", &s, &h), 0);
	uint64_t stuck_id = td_join_handle_id(&h);
	ck_assert(fx_wait_count(&sh.spinning, 1, 20000));

	uint64_t ms;
	td_dump *d = dump_stuck(rt, &ms);
	uint64_t dump_end = test_now_ms();
	const td_dump_runtime *r = fx_only_runtime(d);
	ck_assert_uint_eq(r->ntasks, 1 + NIDLE + 1);

	/* Exactly one thread busy, in the stuck task. */
	int busy = -1;
	for (size_t w = 0; w < r->nworkers; w++) {
		if (strcmp(r->workers[w].state, "busy") == 0) {
			ck_assert_int_eq(busy, -1);
			busy = (int)w;
		} else {
			ck_assert_str_eq(r->workers[w].state, others_state);
		}
	}
	ck_assert_int_ge(busy, 0);
	check_busy_worker(&r->workers[busy], stuck_id, &sh, dump_end - ms,
			  dump_end);

	const td_dump_task *st = fx_find_task(r, stuck_id);
	ck_assert_int_eq(st->state, TD_DUMP_RUNNING);
	ck_assert(!st->traced);
	ck_assert_int_eq(st->worker, busy);
	char want[64];
	snprintf(want, sizeof(want), "running on worker %d for ", busy);
	ck_assert_msg(strncmp(st->not_traced, want, strlen(want)) == 0,
		      "reason: %s", st->not_traced);

	const td_dump_task *bo = fx_find_block_on(r);
	ck_assert_ptr_nonnull(bo);
	if (mt) {
		/* Every other task is still traced. */
		ck_assert_uint_eq(r->traced, r->ntasks - 1);
		ck_assert(fx_tasks_idle(r, ids.v, NIDLE, 1));
		ck_assert(bo->traced);
	} else {
		/* The runtime's thread is stuck: its tasks are listed with
		 * the reason, not traced. */
		char reason[96];
		snprintf(reason, sizeof(reason),
			 "the runtime's thread is busy in task %llu",
			 (unsigned long long)stuck_id);
		ck_assert_uint_eq(r->traced, 0);
		for (size_t k = 0; k < r->ntasks; k++) {
			const td_dump_task *t = &r->tasks[k];
			if (t->id == stuck_id && !t->is_block_on)
				continue;
			ck_assert(!t->traced);
			ck_assert_str_eq(t->not_traced, reason);
			ck_assert_int_eq(t->state, TD_DUMP_IDLE);
		}
	}

	/* The text shows it too. */
	char *text = fx_text(d);
	char line[96];
	snprintf(line, sizeof(line), "worker %d state=busy", busy);
	ck_assert_msg(strstr(text, line), "no '%s' in\n%s", line, text);
	snprintf(line, sizeof(line), "\n  native stack of worker %d", busy);
	ck_assert_msg(strstr(text, line), "no '%s' in\n%s", line, text);
	ck_assert(strstr(text, "  spin_busy_loop at "));
	free(text);
	td_dump_free(d);

	atomic_store(&sh.stop, 1);
	ck_assert(fx_wait_until(handle_done, &h, 20000));
	td_join_handle_detach(&h);
	check_recovered(rt, &ids);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

/* ---- the block_on future stuck in its poll -------------------------------- */

typedef struct stuck_main {
	td_future base;
	struct shared *sh;
} stuck_main;

static td_poll stuck_main_poll(td_future *f, td_context *cx)
{
	(void)cx;
	spin_busy_loop(((stuck_main *)f)->sh);
	return TD_READY;
}

static const td_future_vtable stuck_main_vt = {.poll = stuck_main_poll};

struct main_thread {
	td_runtime *rt;
	stuck_main m;
	int result;
};

static void *main_thread(void *arg)
{
	struct main_thread *mt = arg;
	mt->result = td_runtime_block_on(mt->rt, &mt->m.base, NULL);
	return NULL;
}

START_TEST(test_stuck_block_on)
{
	struct shared sh;
	struct ids ids;
	int fl = set_case(_i);
	bool mt = fx_flavors[fl].flavor == TD_FLAVOR_MULTI_THREAD;
	td_runtime *rt = fx_runtime_new(fl, "stuck_main");
	fx_driver *drv = fx_driver_start(rt);
	pthread_t th;

	memset(&sh, 0, sizeof(sh));
	spawn_idlers(rt, &ids);
	if (!mt) {
		/* One thread drives a current-thread runtime at a time: the
		 * stuck block_on takes over from the fixture's. */
		fx_driver_stop(drv);
		drv = NULL;
	}
	struct main_thread m = {.rt = rt, .m = {.base = {&stuck_main_vt},
						.sh = &sh}};
	ck_assert_int_eq(pthread_create(&th, NULL, main_thread, &m), 0);
	ck_assert(fx_wait_count(&sh.spinning, 1, 20000));

	td_dump *d = NULL;
	uint64_t t0 = test_now_ms();
	td_dump_options o = {.timeout_ms = 500, .grace_ms = 150,
			     .mode = test_mode};
	ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
	ck_assert_uint_lt(test_now_ms() - t0, 2000);
	fx_check_consistent(d, "stuck block_on");
	fx_print(d, "stuck block_on");
	const td_dump_runtime *r = fx_only_runtime(d);
	/* The stuck block_on future (on multi-thread, the fixture's is
	 * listed too; the order among block_on entries is the runtime's). */
	const td_dump_task *bo = NULL;
	size_t nbo = 0;
	for (size_t k = 0; k < r->ntasks && r->tasks[k].is_block_on; k++) {
		nbo++;
		if (!r->tasks[k].traced || !mt)
			bo = &r->tasks[k];
	}
	ck_assert_uint_eq(nbo, mt ? 2 : 1);
	ck_assert_ptr_nonnull(bo);
	ck_assert(!bo->traced);
	if (mt) {
		/* Not a worker: the workers stop, the tasks are traced, the
		 * spinning block_on future is reported as running. */
		for (size_t w = 0; w < r->nworkers; w++)
			ck_assert_str_eq(r->workers[w].state, others_state);
		ck_assert(fx_tasks_idle(r, ids.v, NIDLE, 1));
		ck_assert_uint_eq(r->traced, r->ntasks - 1);
		ck_assert_int_eq(bo->state, TD_DUMP_RUNNING);
		ck_assert_str_eq(bo->not_traced, "being polled by its thread");
	} else {
		ck_assert_str_eq(r->workers[0].state, "busy");
		ck_assert_uint_eq(r->workers[0].task_id, 0);
		ck_assert(fx_frames_contain(r->workers[0].stack,
						    r->workers[0].nstack,
						    "spin_busy_loop"));
		ck_assert_str_eq(bo->not_traced, "the runtime's thread is busy "
						 "in its block_on future");
		ck_assert_msg(bo->state == TD_DUMP_RUNNING,
			     "a current-thread block_on future stuck in its "
			     "poll is listed as state=%s, not running "
			     "(trace/dump.c capture_mains sets TD_DUMP_IDLE "
			     "whenever it does not trace)",
			     td_dump_task_state_name(bo->state));
		ck_assert_uint_eq(r->traced, 0);
	}
	td_dump_free(d);

	atomic_store(&sh.stop, 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(m.result, 0);
	if (!mt)
		drv = fx_driver_start(rt);
	check_recovered(rt, &ids);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

/* ---- a task blocked in a system call ---------------------------------------- */

struct blocked {
	int fd;
	atomic_int entered;
};

/* Blocks the worker in read(2) on a pipe (the classic stuck task). */
__attribute__((noinline)) static ssize_t block_in_read(struct blocked *b)
{
	char c;
	atomic_store(&b->entered, 1);
	ssize_t n = read(b->fd, &c, 1);
	__asm__ volatile("" ::: "memory"); /* keep the call out of tail position */
	return n;
}

typedef struct blocker {
	td_future base;
	struct blocked *b;
} blocker;

static td_poll blocker_poll(td_future *f, td_context *cx)
{
	(void)cx;
	ck_assert_int_eq(block_in_read(((blocker *)f)->b), 1);
	return TD_READY;
}

static const td_future_vtable blocker_vt = {.poll = blocker_poll};

START_TEST(test_stuck_in_syscall)
{
	struct blocked b;
	int p[2];
	td_runtime *rt = fx_runtime_new(_i, "blocked");
	fx_driver *drv = fx_driver_start(rt);
	td_join_handle h;

	ck_assert_int_eq(pipe(p), 0);
	b.fd = p[0];
	atomic_init(&b.entered, 0);
	blocker bl = {.base = {&blocker_vt}, .b = &b};
	ck_assert_int_eq(td_spawn_named(rt, "blocked", &bl, &h), 0);
	ck_assert(fx_wait_count(&b.entered, 1, 20000));
	fx_sleep_ms(20); /* into the read(2) itself */

	uint64_t ms;
	td_dump *d = dump_stuck(rt, &ms);
	const td_dump_runtime *r = fx_only_runtime(d);
	const td_dump_worker *w = NULL;
	for (size_t k = 0; k < r->nworkers; k++)
		if (strcmp(r->workers[k].state, "busy") == 0)
			w = &r->workers[k];
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(w->task_id, td_join_handle_id(&h));
	ck_assert_msg(w->stack_error == NULL, "no stack: %s", w->stack_error);
	ck_assert(fx_frames_contain(w->stack, w->nstack, "blocker_poll"));
	ck_assert_msg(fx_frames_contain(w->stack, w->nstack, "block_in_read"),
		     "the native stack of a worker blocked in read(2) lacks "
		     "the function that called read (innermost: %s, then %s): "
		     "the unwinder lost the frame of the function that made "
		     "the call",
		     w->stack[0].function,
		     w->nstack > 1 ? w->stack[1].function : "-");
	ck_assert_str_eq(w->syscall, "read");
	ck_assert_int_eq(w->syscall_fd, p[0]);
	td_dump_free(d);

	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert(fx_wait_until(handle_done, &h, 20000));
	td_join_handle_detach(&h);
	close(p[0]);
	close(p[1]);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_stuck");
	TCase *tc = tcase_create("stuck");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_stuck_task, 0, 2 * FX_NFLAVORS);
	tcase_add_loop_test(tc, test_stuck_block_on, 0, 2 * FX_NFLAVORS);
	tcase_add_loop_test(tc, test_stuck_in_syscall, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
