/* test_runtime.c - spawning, joining, aborting, block_on and shutdown on
 * both flavors. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "taskdump/runtime.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "taskdump/trace.h"
#include "test_rt.h"
#include "test_util.h"

/* Flavors under test: loop index -> (flavor, workers). */
/* ---- a future that is ready at once with a value --------------------- */

typedef struct value_fut {
	td_future base;
	uintptr_t v;
	atomic_int *drops;
} value_fut;

static td_poll value_poll(td_future *f, td_context *cx)
{
	(void)f;
	(void)cx;
	return TD_READY;
}

static void *value_output(td_future *f)
{
	return (void *)((value_fut *)f)->v;
}

static void value_drop(td_future *f)
{
	value_fut *v = (value_fut *)f;
	if (v->drops)
		atomic_fetch_add(v->drops, 1);
}

static const td_future_vtable value_vtable = {
	.poll = value_poll, .drop = value_drop, .output = value_output};

/* ---- a future that never completes (keeps its waker) ------------------ */

typedef struct forever_fut {
	td_future base;
	atomic_int *drops;
	atomic_int *polls;
	td_waker *stash; /* if set, a clone of the waker is left here */
} forever_fut;

static td_poll forever_poll(td_future *f, td_context *cx)
{
	forever_fut *p = (forever_fut *)f;
	if (p->polls)
		atomic_fetch_add(p->polls, 1);
	if (p->stash && !p->stash->vtable)
		*p->stash = td_waker_clone(cx->waker);
	return TD_PENDING;
}

static void forever_drop(td_future *f)
{
	forever_fut *p = (forever_fut *)f;
	if (p->drops)
		atomic_fetch_add(p->drops, 1);
}

static const td_future_vtable forever_vtable = {.poll = forever_poll,
						.drop = forever_drop};

/* ---- main: spawn n value tasks and sum their outputs ------------------ */

typedef struct sum_main {
	td_future base;
	td_async as;
	size_t n, i;
	td_join_handle *hs;
	td_join join;
	uintptr_t sum;
	uint64_t last_id;
	bool ids_increase;
	bool on_runtime;
} sum_main;

static td_poll sum_main_poll(td_future *f, td_context *cx)
{
	sum_main *m = (sum_main *)f;
	TD_BEGIN(&m->as);
	m->ids_increase = true;
	m->on_runtime = td_runtime_current() != NULL;
	for (m->i = 0; m->i < m->n; m->i++) {
		value_fut v = {{&value_vtable}, m->i + 1, NULL};
		ck_assert_int_eq(td_spawn(NULL, &v, &m->hs[m->i]), 0);
		uint64_t id = td_join_handle_id(&m->hs[m->i]);
		if (id <= m->last_id)
			m->ids_increase = false;
		m->last_id = id;
	}
	for (m->i = 0; m->i < m->n; m->i++) {
		td_join_init(&m->join, &m->hs[m->i]);
		TD_AWAIT(&m->as, &m->join, cx);
		ck_assert_int_eq(m->join.error, 0);
		m->sum += (uintptr_t)m->join.output;
	}
	TD_END(&m->as);
}

static void *sum_main_output(td_future *f)
{
	return (void *)((sum_main *)f)->sum;
}

static const td_future_vtable sum_main_vtable = {.poll = sum_main_poll,
						 .output = sum_main_output};

START_TEST(spawn_join_sums)
{
	td_runtime *rt = test_rt_new(_i);
	const size_t n = 20000;
	sum_main m = {.base = {&sum_main_vtable}, .n = n};
	m.hs = calloc(n, sizeof(*m.hs));
	void *out = NULL;
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, &out), 0);
	ck_assert_uint_eq((uintptr_t)out, n * (n + 1) / 2);
	ck_assert(m.ids_increase);
	ck_assert(m.on_runtime);
	ck_assert_uint_eq(td_runtime_task_count(rt), 0);
	free(m.hs);
	td_runtime_free(rt);
}
END_TEST

/* block_on inside a trace capture of the same thread is refused: its polls
 * are real polls, which leaves would not report to the capture. */
struct block_on_call {
	td_runtime *rt;
	td_future *f;
	int result;
};

static void block_on_fn(void *arg)
{
	struct block_on_call *c = arg;
	c->result = td_runtime_block_on(c->rt, c->f, NULL);
}

START_TEST(block_on_inside_capture_is_refused)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_int polls = 0;
	forever_fut f = {{&forever_vtable}, NULL, &polls, NULL};
	struct block_on_call c = {rt, &f.base, 0};
	td_trace *t = td_trace_capture(block_on_fn, &c);

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(c.result, -EDEADLK);
	ck_assert_int_eq(atomic_load(&polls), 0);
	td_trace_free(t);
	td_runtime_free(rt);
}
END_TEST

START_TEST(bad_arguments)
{
	td_runtime *rt = NULL;
	td_runtime_config bad_flavor = {.flavor = (td_flavor)7};
	td_runtime_config too_many = {.flavor = TD_FLAVOR_MULTI_THREAD,
				      .workers = TD_MAX_WORKERS + 1};
	ck_assert_int_eq(td_runtime_new(&bad_flavor, &rt), -EINVAL);
	ck_assert_int_eq(td_runtime_new(&too_many, &rt), -EINVAL);
	ck_assert_int_eq(td_runtime_new(NULL, NULL), -EINVAL);

	rt = test_rt_new(_i);
	td_join_handle h = {NULL};
	value_fut v = {{&value_vtable}, 1, NULL};
	ck_assert_int_eq(td_spawn_with(rt, NULL, 8, NULL, &h), -EINVAL);
	ck_assert_int_eq(td_spawn_with(rt, &v.base, 2, NULL, &h), -EINVAL);
	td_future novt = {NULL};
	ck_assert_int_eq(td_spawn_with(rt, &novt, sizeof(novt), NULL, &h),
			 -EINVAL);
	/* Outside any runtime, rt == NULL has nowhere to go. */
	atomic_int drops = 0;
	value_fut d = {{&value_vtable}, 1, &drops};
	ck_assert_int_eq(td_spawn(NULL, &d, &h), -ESRCH);
	ck_assert_int_eq(atomic_load(&drops), 1);
	ck_assert_ptr_null(h.task);
	ck_assert_int_eq(td_runtime_block_on(rt, NULL, NULL), -EINVAL);
	ck_assert_int_eq(td_runtime_block_on(NULL, &v.base, NULL), -EINVAL);

	/* Joining an empty handle, or the same handle twice. */
	td_join j;
	ck_assert_int_eq(td_join_init(&j, &h), -EINVAL);
	ck_assert_int_eq(j.error, -EINVAL);
	ck_assert_int_eq(td_spawn(rt, &v, &h), 0);
	td_join j1, j2;
	ck_assert_int_eq(td_join_init(&j1, &h), 0);
	ck_assert_int_eq(td_join_init(&j2, &h), -EINVAL);
	ck_assert_int_eq(td_runtime_block_on(rt, &j1.base, NULL), 0);
	ck_assert_int_eq(j1.error, 0);
	ck_assert_uint_eq((uintptr_t)j1.output, 1);
	td_runtime_free(rt);
	td_runtime_free(NULL);
}
END_TEST

/* ---- shutdown drops every pending future exactly once ----------------- */

START_TEST(shutdown_drops_pending_tasks)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_int drops = 0, polls = 0;
	const int n = 1000;
	td_waker stash = {NULL, NULL};
	for (int i = 0; i < n; i++) {
		forever_fut f = {{&forever_vtable}, &drops, &polls,
				 i == 0 ? &stash : NULL};
		ck_assert_int_eq(td_spawn(rt, &f, NULL), 0);
	}
	/* Let them all be polled once. */
	td_sleep s;
	td_sleep_init(&s, 50);
	ck_assert_int_eq(td_runtime_block_on(rt, &s.base, NULL), 0);
	ck_assert_int_eq(atomic_load(&polls), n);
	ck_assert_uint_eq(td_runtime_task_count(rt), (size_t)n);
	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&drops), n);
	ck_assert_int_eq(atomic_load(&polls), n);
	/* Waking a task after shutdown is harmless (and frees it). */
	ck_assert_ptr_nonnull(stash.vtable);
	td_waker_wake(&stash);
}
END_TEST

/* ---- abort ------------------------------------------------------------ */

typedef struct abort_main {
	td_future base;
	td_async as;
	atomic_int *drops;
	td_join_handle h;
	td_join join;
	td_sleep nap;
} abort_main;

static td_poll abort_main_poll(td_future *f, td_context *cx)
{
	abort_main *m = (abort_main *)f;
	TD_BEGIN(&m->as);
	{
		forever_fut p = {{&forever_vtable}, m->drops, NULL, NULL};
		ck_assert_int_eq(td_spawn(NULL, &p, &m->h), 0);
	}
	td_sleep_init(&m->nap, 20); /* let it be polled and go idle */
	TD_AWAIT(&m->as, &m->nap, cx);
	ck_assert(!td_join_handle_is_finished(&m->h));
	td_join_handle_abort(&m->h);
	td_join_handle_abort(&m->h); /* twice is harmless */
	td_join_init(&m->join, &m->h);
	TD_AWAIT(&m->as, &m->join, cx);
	ck_assert_int_eq(m->join.error, -ECANCELED);
	TD_END(&m->as);
}

static const td_future_vtable abort_main_vtable = {.poll = abort_main_poll};

START_TEST(abort_idle_task)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_int drops = 0;
	abort_main m = {.base = {&abort_main_vtable}, .drops = &drops};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(atomic_load(&drops), 1);
	ck_assert_uint_eq(td_runtime_task_count(rt), 0);
	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&drops), 1);
}
END_TEST

/* ---- wakes from plain threads go through the injection queue ---------- */

struct remote_waker {
	td_waker w;
	atomic_int ready;
	atomic_int fired;
};

typedef struct remote_fut {
	td_future base;
	struct remote_waker *r;
} remote_fut;

static td_poll remote_poll(td_future *f, td_context *cx)
{
	remote_fut *p = (remote_fut *)f;
	if (atomic_load(&p->r->fired))
		return TD_READY;
	if (!atomic_load(&p->r->ready)) {
		p->r->w = td_waker_clone(cx->waker);
		atomic_store(&p->r->ready, 1);
	}
	return TD_PENDING;
}

static const td_future_vtable remote_vtable = {.poll = remote_poll};

#define REMOTE_N 200

static void *remote_thread(void *arg)
{
	struct remote_waker *rs = arg;
	for (int i = 0; i < REMOTE_N; i++) {
		while (!atomic_load(&rs[i].ready))
			usleep(100);
		atomic_store(&rs[i].fired, 1);
		td_waker_wake(&rs[i].w);
	}
	return NULL;
}

typedef struct remote_main {
	td_future base;
	td_async as;
	struct remote_waker *rs;
	td_join_handle hs[REMOTE_N];
	td_join join;
	int i;
} remote_main;

static td_poll remote_main_poll(td_future *f, td_context *cx)
{
	remote_main *m = (remote_main *)f;
	TD_BEGIN(&m->as);
	for (m->i = 0; m->i < REMOTE_N; m->i++) {
		remote_fut p = {{&remote_vtable}, &m->rs[m->i]};
		ck_assert_int_eq(td_spawn(NULL, &p, &m->hs[m->i]), 0);
	}
	for (m->i = 0; m->i < REMOTE_N; m->i++) {
		td_join_init(&m->join, &m->hs[m->i]);
		TD_AWAIT(&m->as, &m->join, cx);
	}
	TD_END(&m->as);
}

static const td_future_vtable remote_main_vtable = {.poll = remote_main_poll};

START_TEST(wakes_from_other_threads)
{
	td_runtime *rt = test_rt_new(_i);
	struct remote_waker *rs = calloc(REMOTE_N, sizeof(*rs));
	pthread_t th;
	pthread_create(&th, NULL, remote_thread, rs);
	remote_main m = {.base = {&remote_main_vtable}, .rs = rs};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	pthread_join(th, NULL);
	td_runtime_free(rt);
	free(rs);
}
END_TEST

/* ---- block_on rules ---------------------------------------------------- */

typedef struct nested_main {
	td_future base;
	td_runtime *rt;
	int nested_result;
} nested_main;

static td_poll nested_poll(td_future *f, td_context *cx)
{
	nested_main *m = (nested_main *)f;
	(void)cx;
	value_fut v = {{&value_vtable}, 1, NULL};
	m->nested_result = td_runtime_block_on(m->rt, &v.base, NULL);
	return TD_READY;
}

static const td_future_vtable nested_vtable = {.poll = nested_poll};

START_TEST(block_on_inside_runtime_is_refused)
{
	td_runtime *rt = test_rt_new(_i);
	nested_main m = {{&nested_vtable}, rt, 0};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(m.nested_result, -EBUSY);
	td_runtime_free(rt);
}
END_TEST

START_TEST(runtime_identity)
{
	td_runtime *a = test_rt_new(_i), *b = test_rt_new(_i);
	ck_assert_uint_gt(td_runtime_id(b), td_runtime_id(a));
	ck_assert_ptr_nonnull(td_runtime_name(a));
	ck_assert_int_eq(td_runtime_flavor(a), test_flavors[_i].flavor);
	ck_assert_uint_eq(td_runtime_workers(a),
			  test_flavors[_i].workers ? test_flavors[_i].workers : 1);
	ck_assert_ptr_null(td_runtime_current());
	td_runtime_free(a);
	td_runtime_free(b);
	td_runtime_config named = {.name = "web"};
	ck_assert_int_eq(td_runtime_new(&named, &a), 0);
	ck_assert_str_eq(td_runtime_name(a), "web");
	td_runtime_free(a);
}
END_TEST

/* ---- a task that wakes itself during its own poll -------------------- */

/* Such a wake is only noted on the polling thread (td_tls_self_woken) and
 * applied when the poll ends.  The note must not outlive the poll: a task
 * that wakes itself, spawns `idle` and finishes leaves nothing behind for
 * the next poll on that thread, which is idle's (the only queued task on
 * current-thread, the LIFO slot on multi-thread: the aborting task is
 * spawned only afterwards), so idle is polled exactly once.  And an abort
 * during the poll still wins over the self-wake: the task is cancelled
 * and dropped once, never polled again (task_state's
 * to_idle_self_woken_from_each_state checks the transition itself). */
struct self_wake_shared {
	atomic_int finisher_polls, aborted_polls, idle_polls, drops;
	atomic_bool armed;
	td_join_handle finisher, aborted, idle;
	/* A copy of `aborted` for the task itself: the join takes the
	 * handle, so the task must not read it. */
	td_join_handle aborted_self;
};

typedef struct self_waker {
	td_future base;
	struct self_wake_shared *sh;
	bool aborts; /* aborts itself from its third poll on; else finishes */
} self_waker;

static td_poll self_waker_poll(td_future *f, td_context *cx)
{
	self_waker *w = (self_waker *)f;
	struct self_wake_shared *sh = w->sh;
	atomic_int *polls = w->aborts ? &sh->aborted_polls
				      : &sh->finisher_polls;
	int n = atomic_fetch_add(polls, 1) + 1;
	td_waker_wake_by_ref(cx->waker); /* every poll: a yield */
	if (w->aborts) {
		if (n >= 3 && atomic_load(&sh->armed))
			td_join_handle_abort(&sh->aborted_self);
		return TD_PENDING;
	}
	if (n < 3)
		return TD_PENDING;
	forever_fut idle = {{&forever_vtable}, &sh->drops, &sh->idle_polls,
			    NULL};
	ck_assert_int_eq(td_spawn(NULL, &idle, &sh->idle), 0);
	return TD_READY;
}

static void self_waker_drop(td_future *f)
{
	atomic_fetch_add(&((self_waker *)f)->sh->drops, 1);
}

static const td_future_vtable self_waker_vtable = {.poll = self_waker_poll,
						   .drop = self_waker_drop};

typedef struct self_wake_main {
	td_future base;
	td_async as;
	struct self_wake_shared *sh;
	td_join join;
	td_sleep nap;
	int aborted_polls;
} self_wake_main;

static td_poll self_wake_main_poll(td_future *f, td_context *cx)
{
	self_wake_main *m = (self_wake_main *)f;
	struct self_wake_shared *sh = m->sh;
	TD_BEGIN(&m->as);
	{
		self_waker fin = {{&self_waker_vtable}, sh, false};
		ck_assert_int_eq(td_spawn(NULL, &fin, &sh->finisher), 0);
	}
	td_join_init(&m->join, &sh->finisher);
	TD_AWAIT(&m->as, &m->join, cx);
	ck_assert_int_eq(m->join.error, 0);
	{
		self_waker ab = {{&self_waker_vtable}, sh, true};
		ck_assert_int_eq(td_spawn(NULL, &ab, &sh->aborted), 0);
		sh->aborted_self = sh->aborted;
		atomic_store(&sh->armed, true);
	}
	td_join_init(&m->join, &sh->aborted);
	TD_AWAIT(&m->as, &m->join, cx);
	ck_assert_int_eq(m->join.error, -ECANCELED);
	m->aborted_polls = atomic_load(&sh->aborted_polls);
	ck_assert_int_ge(m->aborted_polls, 3);
	td_sleep_init(&m->nap, 30); /* a leftover wake would poll them now */
	TD_AWAIT(&m->as, &m->nap, cx);
	{
		int finisher = atomic_load(&sh->finisher_polls);
		int idle = atomic_load(&sh->idle_polls);
		int aborted = atomic_load(&sh->aborted_polls);
		int drops = atomic_load(&sh->drops);
		ck_assert_int_eq(finisher, 3);
		ck_assert_int_eq(idle, 1);
		ck_assert_int_eq(aborted, m->aborted_polls);
		/* The finisher completed (no drop); the aborted task was
		 * dropped. */
		ck_assert_int_eq(drops, 1);
	}
	td_join_handle_abort(&sh->idle);
	td_join_init(&m->join, &sh->idle);
	TD_AWAIT(&m->as, &m->join, cx);
	{
		int drops = atomic_load(&sh->drops);
		ck_assert_int_eq(drops, 2);
	}
	TD_END(&m->as);
}

static const td_future_vtable self_wake_main_vtable = {
	.poll = self_wake_main_poll};

START_TEST(self_wake_during_poll)
{
	td_runtime *rt = test_rt_new(_i);
	struct self_wake_shared sh = {0};
	self_wake_main m = {.base = {&self_wake_main_vtable}, .sh = &sh};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_uint_eq(td_runtime_task_count(rt), 0);
	td_runtime_free(rt);
	int drops = atomic_load(&sh.drops);
	ck_assert_int_eq(drops, 2);
}
END_TEST

/* ---- current-thread: FIFO order of spawns and yields ------------------ */

/* The current-thread run queue is a FIFO linked through the tasks.
 * ROUNDERS tasks yield ROUNDS times each; on its second poll the first of
 * them spawns LATE more tasks, which queue behind the rounders that were
 * popped and pushed back once already (and it queues itself behind them).
 * The order of polls must be exactly that of a FIFO queue. */
enum { ROUNDERS = 200, ROUNDS = 3, LATE = 400, MAX_POLLS = ROUNDERS * (ROUNDS + 1) + LATE };

struct fifo_log {
	int order[MAX_POLLS];
	size_t n;
};

typedef struct fifo_task {
	td_future base;
	struct fifo_log *log;
	int index;    /* 0..ROUNDERS-1, then ROUNDERS.. for the late ones */
	int polls_left;
} fifo_task;

static const td_future_vtable fifo_vtable;

static td_poll fifo_poll(td_future *f, td_context *cx)
{
	fifo_task *t = (fifo_task *)f;

	ck_assert_uint_lt(t->log->n, MAX_POLLS);
	t->log->order[t->log->n++] = t->index;
	if (t->index == 0 && t->polls_left == ROUNDS) { /* second poll */
		for (int k = 0; k < LATE; k++) {
			fifo_task late = {{&fifo_vtable}, t->log, ROUNDERS + k, 1};
			ck_assert_int_eq(td_spawn(NULL, &late, NULL), 0);
		}
	}
	if (--t->polls_left == 0)
		return TD_READY;
	td_waker_wake_by_ref(cx->waker); /* a yield: back of the queue */
	return TD_PENDING;
}

static const td_future_vtable fifo_vtable = {.poll = fifo_poll};

/* The same schedule, computed with a plain FIFO queue. */
static size_t fifo_model(int *order)
{
	int queue[MAX_POLLS * 2], left[ROUNDERS + LATE];
	size_t head = 0, tail = 0, n = 0;

	for (int i = 0; i < ROUNDERS; i++) {
		queue[tail++] = i;
		left[i] = ROUNDS + 1;
	}
	while (head < tail) {
		int i = queue[head++];
		order[n++] = i;
		if (i == 0 && left[i] == ROUNDS) {
			for (int k = 0; k < LATE; k++) {
				queue[tail++] = ROUNDERS + k;
				left[ROUNDERS + k] = 1;
			}
		}
		if (--left[i] > 0)
			queue[tail++] = i;
	}
	return n;
}

/* Spawns the rounders from the driving thread (so that they queue in the
 * local FIFO, not in the injection queue) and joins them. */
typedef struct fifo_main {
	td_future base;
	struct fifo_log *log;
	td_join_handle hs[ROUNDERS];
	test_joiner joiner;
	bool spawned;
} fifo_main;

static td_poll fifo_main_poll(td_future *f, td_context *cx)
{
	fifo_main *m = (fifo_main *)f;

	if (!m->spawned) {
		for (int i = 0; i < ROUNDERS; i++) {
			fifo_task t = {{&fifo_vtable}, m->log, i, ROUNDS + 1};
			ck_assert_int_eq(td_spawn(NULL, &t, &m->hs[i]), 0);
		}
		test_joiner_init(&m->joiner, m->hs, ROUNDERS);
		m->spawned = true;
	}
	return td_future_poll(&m->joiner.base, cx);
}

static const td_future_vtable fifo_main_vtable = {.poll = fifo_main_poll};

START_TEST(current_thread_fifo_order)
{
	td_runtime *rt = test_rt_new(0);
	static struct fifo_log log;
	static int expected[MAX_POLLS];
	static fifo_main m;

	ck_assert_int_eq(test_flavors[0].flavor, TD_FLAVOR_CURRENT_THREAD);
	m = (fifo_main){.base = {&fifo_main_vtable}, .log = &log};
	log.n = 0;
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(m.joiner.errors, 0);
	/* The late tasks (detached) ran before the first rounder's third
	 * poll, so all is done once the rounders are. */
	ck_assert_uint_eq(td_runtime_task_count(rt), 0);
	size_t n = fifo_model(expected);
	ck_assert_uint_eq(log.n, n);
	for (size_t k = 0; k < n; k++)
		ck_assert_msg(log.order[k] == expected[k],
			      "poll %zu ran task %d, FIFO order says %d", k,
			      log.order[k], expected[k]);
	td_runtime_free(rt);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, spawn_join_sums, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, bad_arguments, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, shutdown_drops_pending_tasks, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, abort_idle_task, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, wakes_from_other_threads, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, block_on_inside_runtime_is_refused, 0,
			    TEST_NFLAVORS);
	tcase_add_loop_test(tc, runtime_identity, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, block_on_inside_capture_is_refused, 0,
			    TEST_NFLAVORS);
	tcase_add_loop_test(tc, self_wake_during_poll, 0, TEST_NFLAVORS);
	tcase_add_test(tc, current_thread_fifo_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
