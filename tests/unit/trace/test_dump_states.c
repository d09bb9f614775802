/* test_dump_states.c - task states, queues, dumps from inside a task, and
 * td_dump_all over two runtimes.
 *
 * test_notified_queues: a task ("dumper") wakes two parked tasks from its
 *   own poll and has a plain thread wake a third, then dumps its own
 *   runtime before returning.  The woken tasks have not run yet: they must
 *   be listed as notified, in the queue they sit in - multi-thread: the
 *   LIFO slot and the local queue of the dumper's worker, and the
 *   injection queue; current-thread: its local queue and the injection
 *   queue - and still be traced.  The dumper shows as running.  On the
 *   multi-thread runtime the other worker is kept busy by a spinning task
 *   (so nobody takes the woken tasks), and the dump reports it busy.
 * test_dump_from_task: td_runtime_dump and td_dump_all from a task of the
 *   runtime being dumped return promptly (the caller's own worker counts
 *   as stopped), list the caller as running and trace everything else.
 * test_dump_all_two_runtimes: one dump of a current-thread and a
 *   multi-thread runtime, from a plain thread and from a task.
 * test_never_polled: a task that was spawned but never polled is traced
 *   too, which runs its first statements (up to its first leaf).  If a
 *   dump does that, it must do it inside the task's runtime, as a real
 *   first poll would (td_runtime_current(), td_spawn(NULL, ...)): checked
 *   from a plain thread on an undriven current-thread runtime, on a
 *   multi-thread runtime whose workers are all busy, and with td_dump_all
 *   called from a task of another runtime.  (A known bug: see the report
 *   printed when it fails.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dump_fixtures.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define NSLEEPERS 3

struct shared {
	td_notify n[NSLEEPERS];
	atomic_int done[NSLEEPERS];
	atomic_int spinning;
	atomic_int stop_spin;
	atomic_int dumped;
	/* Written by the dumper before `dumped`. */
	td_dump *dump;
	int dump_err;
	uint64_t dumper_id;
	uint64_t dump_ms;
};

/* ---- tasks ------------------------------------------------------------- */

typedef struct sleeper {
	td_future base;
	td_async as;
	struct shared *sh;
	int k;
	td_notified go;
} sleeper;

static td_poll sleeper_poll(td_future *f, td_context *cx)
{
	sleeper *s = (sleeper *)f;
	TD_BEGIN(&s->as);
	td_notified_init(&s->go, &s->sh->n[s->k]);
	TD_AWAIT(&s->as, &s->go, cx);
	atomic_store(&s->sh->done[s->k], 1);
	TD_END(&s->as);
}

static void sleeper_drop(td_future *f)
{
	td_async_drop(&((sleeper *)f)->as);
}

static const td_future_vtable sleeper_vt = {.poll = sleeper_poll,
					    .drop = sleeper_drop};

/* Spins on its worker (no await) until told to stop, 20 s at most. */
typedef struct spinner {
	td_future base;
	struct shared *sh;
} spinner;

static td_poll spinner_poll(td_future *f, td_context *cx)
{
	struct shared *sh = ((spinner *)f)->sh;
	uint64_t end = test_now_ms() + 20000;

	(void)cx;
	atomic_fetch_add(&sh->spinning, 1);
	while (!atomic_load(&sh->stop_spin) && test_now_ms() < end)
		__asm__ volatile("pause" ::: "memory");
	return TD_READY;
}

static const td_future_vtable spinner_vt = {.poll = spinner_poll};

static void *notify_thread(void *arg)
{
	td_notify_one(arg);
	return NULL;
}

/* Dumps from its first poll (optionally waking the sleepers first). */
typedef struct dumper {
	td_future base;
	struct shared *sh;
	bool wake;
	bool all;
	unsigned timeout_ms;
} dumper;

static td_poll dumper_poll(td_future *f, td_context *cx)
{
	dumper *p = (dumper *)f;
	struct shared *sh = p->sh;
	td_dump_options o = {.timeout_ms = p->timeout_ms};
	pthread_t th;

	(void)cx;
	sh->dumper_id = td_task_current_id();
	if (p->wake) {
		/* From this poll: LIFO slot / local queue ... */
		td_notify_one(&sh->n[0]);
		td_notify_one(&sh->n[1]);
		/* ... and from a plain thread: the injection queue. */
		if (pthread_create(&th, NULL, notify_thread, &sh->n[2]) == 0)
			pthread_join(th, NULL);
	}
	uint64_t t0 = test_now_ms();
	sh->dump_err = p->all ? td_dump_all(&o, &sh->dump)
			      : td_runtime_dump(td_runtime_current(), &o,
						&sh->dump);
	sh->dump_ms = test_now_ms() - t0;
	atomic_store(&sh->stop_spin, 1);
	atomic_store(&sh->dumped, 1);
	return TD_READY;
}

static const td_future_vtable dumper_vt = {.poll = dumper_poll};

/* ---- helpers ------------------------------------------------------------ */

struct ids {
	uint64_t v[NSLEEPERS];
};

static bool sleepers_idle(const td_dump *d, void *arg)
{
	return fx_tasks_idle(fx_only_runtime(d), ((struct ids *)arg)->v,
			     NSLEEPERS, 1);
}

static struct shared *shared_new(void)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	ck_assert_ptr_nonnull(sh);
	for (int k = 0; k < NSLEEPERS; k++)
		td_notify_init(&sh->n[k]);
	return sh;
}

static void shared_free(struct shared *sh)
{
	for (int k = 0; k < NSLEEPERS; k++)
		td_notify_destroy(&sh->n[k]);
	td_dump_free(sh->dump);
	free(sh);
}

/* Spawn the sleepers on rt and wait until all are parked. */
static void spawn_sleepers(td_runtime *rt, struct shared *sh, struct ids *ids)
{
	for (int k = 0; k < NSLEEPERS; k++) {
		sleeper s = {.base = {&sleeper_vt}, .sh = sh, .k = k};
		td_join_handle h;
		ck_assert_int_eq(td_spawn_named(rt, "sleeper", &s, &h), 0);
		ids->v[k] = td_join_handle_id(&h);
		td_join_handle_detach(&h);
	}
	td_dump_options o = {.no_symbolize = true, .timeout_ms = 5000};
	td_dump_free(fx_dump_until(rt, &o, sleepers_idle, ids, 20000,
				   "sleepers parked"));
}

static void release_sleepers(struct shared *sh)
{
	for (int k = 0; k < NSLEEPERS; k++) {
		td_notify_one(&sh->n[k]);
		ck_assert_msg(fx_wait_count(&sh->done[k], 1, 20000),
			      "sleeper %d never finished", k);
	}
}

static void spawn_dumper(td_runtime *rt, struct shared *sh, bool wake,
			 bool all, unsigned timeout_ms)
{
	dumper d = {.base = {&dumper_vt}, .sh = sh, .wake = wake, .all = all,
		    .timeout_ms = timeout_ms};
	ck_assert_int_eq(td_spawn_named(rt, "dumper", &d, NULL), 0);
	ck_assert_msg(fx_wait_count(&sh->dumped, 1, 30000),
		      "the dump from inside a task never returned");
	ck_assert_int_eq(sh->dump_err, 0);
	ck_assert_ptr_nonnull(sh->dump);
	fx_check_consistent(sh->dump, "dump from a task");
	fx_print(sh->dump, "dump from a task");
}

static void check_dumper_running(const td_dump_runtime *r, uint64_t id)
{
	const td_dump_task *t = fx_find_task(r, id);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->name, "dumper");
	ck_assert_int_eq(t->state, TD_DUMP_RUNNING);
	ck_assert(!t->traced);
	ck_assert_msg(strstr(t->not_traced, "running") != NULL,
		      "reason: %s", t->not_traced);
	ck_assert_uint_eq(t->polls, 1);
}

/* ---- notified tasks and their queues ------------------------------------ */

START_TEST(test_notified_queues)
{
	struct shared *sh = shared_new();
	struct ids ids;
	bool mt = fx_flavors[_i].flavor == TD_FLAVOR_MULTI_THREAD;
	td_runtime *rt = fx_runtime_new(_i, "queues");
	fx_driver *drv = fx_driver_start(rt);
	td_join_handle sh_spin = {NULL};

	spawn_sleepers(rt, sh, &ids);
	if (mt) {
		/* Occupy one worker, so that the dumper runs on the other
		 * and nobody else can take the tasks it wakes. */
		spinner s = {.base = {&spinner_vt}, .sh = sh};
		ck_assert_int_eq(td_spawn_named(rt, "spinner", &s, &sh_spin),
				 0);
		ck_assert(fx_wait_count(&sh->spinning, 1, 20000));
	}
	spawn_dumper(rt, sh, true, false, mt ? 300 : 5000);

	const td_dump_runtime *r = fx_only_runtime(sh->dump);
	ck_assert_uint_eq(r->ntasks, 1 + NSLEEPERS + 1 + (mt ? 1 : 0));
	check_dumper_running(r, sh->dumper_id);
	const td_dump_task *dt = fx_find_task(r, sh->dumper_id);
	int w = dt->worker; /* the worker polling the dumper */
	ck_assert_int_ge(w, 0);
	ck_assert_str_eq(r->workers[w].state, "paused");

	const td_dump_task *t[NSLEEPERS];
	for (int k = 0; k < NSLEEPERS; k++) {
		t[k] = fx_find_task(r, ids.v[k]);
		ck_assert_ptr_nonnull(t[k]);
		ck_assert_msg(t[k]->state == TD_DUMP_NOTIFIED,
			      "sleeper %d is %s", k,
			      td_dump_task_state_name(t[k]->state));
		/* Notified, not running: traced, at its leaf. */
		ck_assert(t[k]->traced);
		ck_assert_uint_eq(t[k]->ntraces, 1);
		ck_assert_int_eq(t[k]->traces[0].wait.kind, TD_WAIT_NOTIFY);
		ck_assert_uint_eq(t[k]->polls, 1);
	}
	if (mt) {
		/* Newest wake in the LIFO slot, the one it displaced in the
		 * local queue, the plain thread's wake in the inject queue. */
		ck_assert_int_eq(t[1]->queue, TD_DUMP_QUEUE_LIFO);
		ck_assert_int_eq(t[1]->queue_worker, w);
		ck_assert_int_eq(t[0]->queue, TD_DUMP_QUEUE_LOCAL);
		ck_assert_int_eq(t[0]->queue_worker, w);
		ck_assert_uint_eq(r->workers[w].queued, 2);
		/* The other worker never stopped: busy in the spinner. */
		const td_dump_worker *o = &r->workers[1 - w];
		ck_assert_str_eq(o->state, "busy");
		ck_assert_uint_eq(o->task_id, td_join_handle_id(&sh_spin));
		const td_dump_task *sp = fx_find_task(r, o->task_id);
		ck_assert_int_eq(sp->state, TD_DUMP_RUNNING);
		ck_assert(!sp->traced);
		ck_assert_msg(strncmp(sp->not_traced, "running on worker", 17) ==
				      0,
			      "reason: %s", sp->not_traced);
	} else {
		ck_assert_int_eq(t[0]->queue, TD_DUMP_QUEUE_LOCAL);
		ck_assert_int_eq(t[0]->queue_worker, 0);
		ck_assert_int_eq(t[1]->queue, TD_DUMP_QUEUE_LOCAL);
		ck_assert_int_eq(t[1]->queue_worker, 0);
		ck_assert_msg(r->workers[0].queued == 2,
			     "current-thread worker reports queued=%u with 2 "
			     "tasks in its local queue (sched/flavor.c "
			     "td_worker_status_read sets 0 and "
			     "current_thread.c ct_worker_status never fills "
			     "it in)",
			     r->workers[0].queued);
	}
	ck_assert_int_eq(t[2]->queue, TD_DUMP_QUEUE_INJECT);
	ck_assert_int_eq(t[2]->queue_worker, -1);
	/* The block_on future is idle (its thread is in block_on). */
	const td_dump_task *bo = fx_find_block_on(r);
	ck_assert_ptr_nonnull(bo);
	ck_assert(bo->traced);

	/* The wake-ups were kept: every sleeper runs to its end. */
	for (int k = 0; k < NSLEEPERS; k++)
		ck_assert_msg(fx_wait_count(&sh->done[k], 1, 20000),
			      "woken sleeper %d never ran", k);
	td_join_handle_detach(&sh_spin);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	shared_free(sh);
}
END_TEST

/* ---- a dump from inside a task ---------------------------------------------- */

START_TEST(test_dump_from_task)
{
	for (int all = 0; all < 2; all++) {
		struct shared *sh = shared_new();
		struct ids ids;
		td_runtime *rt = fx_runtime_new(_i, "inside");
		fx_driver *drv = fx_driver_start(rt);

		spawn_sleepers(rt, sh, &ids);
		spawn_dumper(rt, sh, false, all, 0);
		/* Nobody was stuck: no wait for the 1 s deadline (the
		 * caller's own worker counts as stopped). */
		const td_dump_runtime *r = fx_only_runtime(sh->dump);
		ck_assert_msg(r->pause_ms < 900.0, "pause %.3f ms (dump %llu ms)",
			      r->pause_ms, (unsigned long long)sh->dump_ms);
		ck_assert_uint_eq(r->id, td_runtime_id(rt));
		for (size_t w = 0; w < r->nworkers; w++)
			ck_assert_str_eq(r->workers[w].state, "paused");
		check_dumper_running(r, sh->dumper_id);
		ck_assert_uint_eq(r->ntasks, 1 + NSLEEPERS + 1);
		ck_assert_uint_eq(r->traced, 1 + NSLEEPERS);
		ck_assert(fx_tasks_idle(r, ids.v, NSLEEPERS, 1));
		ck_assert(fx_find_block_on(r)->traced);

		release_sleepers(sh);
		fx_driver_stop(drv);
		td_runtime_free(rt);
		shared_free(sh);
	}
}
END_TEST

/* ---- two runtimes ------------------------------------------------------------ */

static void check_two(const td_dump *d, td_runtime *rt[2], struct ids ids[2],
		      uint64_t dumper_id)
{
	static const char *const flavor[2] = {"current_thread",
					      "multi_thread"};
	static const char *const name[2] = {"first", "second"};

	ck_assert_uint_eq(d->nruntimes, 2);
	size_t total = 0;
	for (int i = 0; i < 2; i++) {
		const td_dump_runtime *r = fx_find_runtime(d, td_runtime_id(rt[i]));
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r->flavor, flavor[i]);
		ck_assert_str_eq(r->name, name[i]);
		ck_assert_uint_eq(r->nworkers, i ? 2 : 1);
		/* block_on first, then the sleepers (and the dumper). */
		ck_assert(r->tasks[0].is_block_on);
		ck_assert_uint_eq(r->tasks[0].id, 0);
		ck_assert_str_eq(r->tasks[0].name, "block_on");
		ck_assert(r->tasks[0].traced);
		ck_assert_uint_eq(r->tasks[0].ntraces, 1);
		ck_assert_str_eq(r->tasks[0].traces[0].frames[0].function,
				 FX_MAIN_POLL);
		ck_assert(fx_tasks_idle(r, ids[i].v, NSLEEPERS, 1));
		for (size_t k = 1; k < r->ntasks; k++)
			if (r->tasks[k].id != dumper_id)
				ck_assert_str_eq(r->tasks[k].name, "sleeper");
		size_t want = 1 + NSLEEPERS +
			      (dumper_id && fx_find_task(r, dumper_id));
		ck_assert_uint_eq(r->ntasks, want);
		total += r->ntasks;
	}
	ck_assert_uint_eq(d->ntasks, total);
}

START_TEST(test_dump_all_two_runtimes)
{
	struct shared *sh = shared_new();
	struct ids ids[2];
	td_runtime_config cfg[2] = {
		{.flavor = TD_FLAVOR_CURRENT_THREAD, .name = "first"},
		{.flavor = TD_FLAVOR_MULTI_THREAD, .workers = 2, .name = "second"},
	};
	td_runtime *rt[2];
	fx_driver *drv[2];

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(td_runtime_new(&cfg[i], &rt[i]), 0);
		drv[i] = fx_driver_start(rt[i]);
		spawn_sleepers(rt[i], sh, &ids[i]);
	}

	/* From a plain thread. */
	td_dump *d = NULL;
	ck_assert_int_eq(td_dump_all(NULL, &d), 0);
	fx_check_consistent(d, "dump_all");
	fx_print(d, "dump_all");
	check_two(d, rt, ids, 0);
	ck_assert(d->pause_ms > 0.0 && d->total_ms > 0.0);
	td_dump_free(d);

	/* From a task of the current-thread runtime: it is running there;
	 * the multi-thread runtime is traced in full. */
	spawn_dumper(rt[_i], sh, false, true, 0);
	check_two(sh->dump, rt, ids, sh->dumper_id);
	const td_dump_runtime *own = fx_find_runtime(sh->dump,
						     td_runtime_id(rt[_i]));
	check_dumper_running(own, sh->dumper_id);
	ck_assert_ptr_null(fx_find_task(fx_find_runtime(sh->dump,
							td_runtime_id(rt[1 - _i])),
					sh->dumper_id));

	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < NSLEEPERS; k++)
			td_notify_waiters(&sh->n[k]);
		fx_driver_stop(drv[i]);
		td_runtime_free(rt[i]);
	}
	shared_free(sh);
}
END_TEST

/* ---- never-polled tasks ------------------------------------------------- */

struct fresh {
	td_notify go;
	atomic_int ran;        /* executions of the first statements */
	atomic_int done;
	/* Written by the first execution, read after `ran`. */
	td_runtime *seen_rt;
	int spawn_result;
	bool seen_tracing;
};

typedef struct ready_fut {
	td_future base;
} ready_fut;

static td_poll ready_poll(td_future *f, td_context *cx)
{
	(void)f;
	(void)cx;
	return TD_READY;
}

static const td_future_vtable ready_vt = {.poll = ready_poll};

typedef struct fresh_task {
	td_future base;
	td_async as;
	struct fresh *fr;
	td_notified go;
} fresh_task;

static td_poll fresh_poll(td_future *f, td_context *cx)
{
	fresh_task *t = (fresh_task *)f;
	struct fresh *fr = t->fr;
	TD_BEGIN(&t->as);
	/* What a task typically does first: look at its runtime, spawn. */
	fr->seen_rt = td_runtime_current();
	fr->seen_tracing = td_tracing();
	{
		ready_fut r = {{&ready_vt}};
		fr->spawn_result = td_spawn(NULL, &r, NULL);
	}
	atomic_fetch_add(&fr->ran, 1);
	td_notified_init(&t->go, &fr->go);
	TD_AWAIT(&t->as, &t->go, cx);
	atomic_store(&fr->done, 1);
	TD_END(&t->as);
}

static void fresh_drop(td_future *f)
{
	td_async_drop(&((fresh_task *)f)->as);
}

static const td_future_vtable fresh_vt = {.poll = fresh_poll,
					  .drop = fresh_drop};

START_TEST(test_never_polled)
{
	struct shared *sh = shared_new();
	struct fresh fr;
	td_runtime *rt, *other = NULL;
	fx_driver *drv = NULL, *other_drv = NULL;
	td_join_handle h;
	const char *how[3] = {"a plain thread, undriven current-thread runtime",
			      "a plain thread, all workers busy",
			      "td_dump_all from a task of another runtime"};

	memset(&fr, 0, sizeof(fr));
	td_notify_init(&fr.go);
	rt = fx_runtime_new(_i == 1 ? 1 : 0, "fresh");
	if (_i == 1) {
		for (int k = 0; k < 2; k++) {
			spinner s = {.base = {&spinner_vt}, .sh = sh};
			ck_assert_int_eq(td_spawn_named(rt, "spinner", &s, NULL),
					 0);
		}
		ck_assert(fx_wait_count(&sh->spinning, 2, 20000));
	}
	fresh_task t = {.base = {&fresh_vt}, .fr = &fr};
	ck_assert_int_eq(td_spawn_named(rt, "fresh", &t, &h), 0);

	td_dump *d = NULL;
	if (_i == 2) {
		other = fx_runtime_new(1, "other");
		other_drv = fx_driver_start(other);
		spawn_dumper(other, sh, false, true, 0);
		d = sh->dump;
	} else {
		td_dump_options o = {.timeout_ms = 300};
		ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
		fx_check_consistent(d, "fresh task");
	}
	const td_dump_runtime *r = fx_find_runtime(d, td_runtime_id(rt));
	ck_assert_ptr_nonnull(r);
	const td_dump_task *e = fx_find_task(r, td_join_handle_id(&h));
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->state, TD_DUMP_NOTIFIED);
	ck_assert_int_eq(e->queue, TD_DUMP_QUEUE_INJECT);
	ck_assert_uint_eq(e->polls, 0);
	ck_assert_int_eq(e->worker, -1);
	if (atomic_load(&fr.ran)) {
		ck_assert_msg(fr.seen_rt == rt && fr.spawn_result == 0,
			     "a dump (from %s) traced a never-polled task by "
			     "running its first statements on the dumping "
			     "thread, outside the task's runtime: "
			     "td_runtime_current() = %s, td_spawn(NULL) = %d, "
			     "td_tracing() = %d (trace/dump.c trace_task -> "
			     "td_task_trace_poll sets no runtime context; also "
			     "block_on futures in capture_mains)",
			     how[_i],
			     fr.seen_rt == rt      ? "its runtime"
			     : fr.seen_rt == NULL ? "NULL"
						  : "ANOTHER runtime",
			     fr.spawn_result, fr.seen_tracing);
	}

	/* However it was traced, the task runs its first statements once
	 * and goes on normally. */
	atomic_store(&sh->stop_spin, 1);
	if (_i != 1)
		drv = fx_driver_start(rt);
	td_notify_one(&fr.go);
	ck_assert(fx_wait_count(&fr.done, 1, 20000));
	ck_assert_int_eq(atomic_load(&fr.ran), 1);
	td_join_handle_detach(&h);
	if (drv)
		fx_driver_stop(drv);
	td_runtime_free(rt);
	if (other) {
		fx_driver_stop(other_drv);
		td_runtime_free(other);
	} else {
		td_dump_free(d);
	}
	td_notify_destroy(&fr.go);
	shared_free(sh);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_states");
	TCase *tc = tcase_create("states");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_notified_queues, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_dump_from_task, 0, FX_NFLAVORS);
	/* _i: which runtime the in-task dumper runs on. */
	tcase_add_loop_test(tc, test_dump_all_two_runtimes, 0, 2);
	tcase_add_loop_test(tc, test_never_polled, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
