/* test_dump_warnings.c - the task warnings and counters of live dumps
 * (README.md, "Task warnings"), each situation on the flavors it exists
 * on, with the exact expected diagnosis:
 *
 *   lost_wakeup   a leaf that returns pending without registering its
 *                 waker: that task, and only it, is a lost wake-up
 *                 (wakers 0); the healthy tasks beside it (sleep, notify,
 *                 mutex, join, oneshot) count one waker each;
 *   dropped       a leaf that hands its waker to a slot which is then
 *                 dropped by another thread: a lost wake-up once the slot
 *                 is empty, not before;
 *   yield_loop    a task yielding forever (and one waking itself through
 *                 its waker): busy loops with their poll rate; a task that
 *                 yields ten times between sleeps is not one;
 *   long_poll     a poll that spins 200 ms once: long-poll, with its
 *                 slowest poll;
 *   starved       current-thread: while one task spins in a poll, a task
 *                 woken meanwhile is starved, one spawned meanwhile never
 *                 polled, and the spinning one in a long poll now;
 *   long_wait     eight tasks waiting at the same place, seven woken
 *                 again and again: the eighth waits long;
 *   healthy       sleeps, mutex hand-offs, channels, joins and moderate
 *                 yields: 20 dumps at the default thresholds, no warning.
 *
 * Every task completes at the end (aborted where nothing can wake it):
 * the dumps changed nothing.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump_fixtures.h"
#include "taskdump/combinators.h"
#include "taskdump/mutex.h"
#include "taskdump/oneshot.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "taskdump/trace.h"
#include "test_util.h"

/* ---- helpers --------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void spin_ms(unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (now_ms() < end)
		;
}

/* The warnings of kind k naming task id. */
static size_t count_warnings(const td_dump *d, td_dump_warning_kind k,
			     uint64_t id)
{
	size_t n = 0;
	for (size_t i = 0; i < d->ntask_warnings; i++)
		if (d->task_warnings[i].kind == k &&
		    d->task_warnings[i].task->id == id)
			n++;
	return n;
}

static const td_dump_warning *warning_of(const td_dump *d,
					 td_dump_warning_kind k, uint64_t id)
{
	for (size_t i = 0; i < d->ntask_warnings; i++)
		if (d->task_warnings[i].kind == k &&
		    d->task_warnings[i].task->id == id)
			return &d->task_warnings[i];
	return NULL;
}

/* Every warning of the dump names a task of ids[0..n) with kind kinds[i]
 * (so: nothing else is flagged); prints the dump otherwise. */
static void assert_only(const td_dump *d, const uint64_t *ids,
			const td_dump_warning_kind *kinds, size_t n,
			const char *what)
{
	for (size_t i = 0; i < d->ntask_warnings; i++) {
		const td_dump_warning *w = &d->task_warnings[i];
		bool expected = false;
		for (size_t k = 0; k < n; k++)
			if (w->task->id == ids[k] && w->kind == kinds[k])
				expected = true;
		if (!expected) {
			fx_print(d, what);
			ck_abort_msg("%s: unexpected %s on task %llu: %s", what,
				     td_dump_warning_kind_name(w->kind),
				     (unsigned long long)w->task->id,
				     w->evidence);
		}
	}
	ck_assert_uint_eq(d->ntask_warnings_found, d->ntask_warnings);
}

static const td_dump_task *task_in(const td_dump *d, uint64_t id)
{
	return fx_find_task(fx_only_runtime(d), id);
}

/* With TD_WARNINGS_SAVE=<dir>: the dump as <dir>/<name>.txt (fixtures
 * for the tool's tests). */
static void save(const td_dump *d, const char *name)
{
	const char *dir = getenv("TD_WARNINGS_SAVE");
	char path[512];
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_text(d, f, NULL), 0);
	fclose(f);
}

/* ---- leaves ---------------------------------------------------------- */

/* A leaf that never registers its waker: the bug under test. */
typedef struct forgetful {
	td_future base;
} forgetful;

static td_poll forgetful_poll(td_future *f, td_context *cx)
{
	td_wait w = {.kind = TD_WAIT_OTHER, .object = f,
		     .label = "forgetful"};
	if (td_trace_leaf(cx, &w))
		return TD_PENDING;
	return TD_PENDING; /* and cx->waker is not kept anywhere */
}

static const td_future_vtable forgetful_vt = {.poll = forgetful_poll,
					      .type_name = "forgetful"};

/* A leaf that stores its waker in a slot owned by the test. */
static td_waker slot;
static atomic_bool slot_filled;

typedef struct slotted {
	td_future base;
} slotted;

static td_poll slotted_poll(td_future *f, td_context *cx)
{
	td_wait w = {.kind = TD_WAIT_OTHER, .object = f, .label = "slotted"};
	if (td_trace_leaf(cx, &w))
		return TD_PENDING;
	if (!atomic_load(&slot_filled)) {
		slot = td_waker_clone(cx->waker);
		atomic_store(&slot_filled, true);
	}
	return TD_PENDING;
}

static const td_future_vtable slotted_vt = {.poll = slotted_poll,
					    .type_name = "slotted"};

/* Wakes itself through its waker forever (until *stop). */
typedef struct self_waker {
	td_future base;
	atomic_bool *stop;
} self_waker;

static td_poll self_waker_poll(td_future *f, td_context *cx)
{
	self_waker *s = (self_waker *)f;
	td_wait w = {.kind = TD_WAIT_OTHER, .object = f, .label = "again"};
	if (td_trace_leaf(cx, &w))
		return TD_PENDING;
	if (atomic_load(s->stop))
		return TD_READY;
	td_waker_wake_by_ref(cx->waker);
	return TD_PENDING;
}

static const td_future_vtable self_waker_vt = {.poll = self_waker_poll,
					       .type_name = "self_waker"};

/* ---- tasks ----------------------------------------------------------- */

/* Sleeps `ms` in a loop until *stop, yielding `yields` times per round
 * and spinning `spin_ms` once in its first round. */
typedef struct looper {
	td_future base;
	td_async as;
	atomic_bool *stop;
	unsigned ms, yields, spin, i;
	union {
		td_sleep sl;
		td_yield y;
	} u;
} looper;

static td_poll looper_poll(td_future *f, td_context *cx)
{
	looper *l = (looper *)f;
	TD_BEGIN(&l->as);
	if (l->spin)
		spin_ms(l->spin);
	while (!atomic_load(l->stop)) {
		for (l->i = 0; l->i < l->yields; l->i++) {
			td_yield_init(&l->u.y);
			TD_AWAIT(&l->as, &l->u.y, cx);
		}
		if (l->ms) {
			td_sleep_init(&l->u.sl, l->ms);
			TD_AWAIT(&l->as, &l->u.sl, cx);
		}
	}
	TD_END(&l->as);
}

static void looper_drop(td_future *f)
{
	td_async_drop(&((looper *)f)->as);
}

static const td_future_vtable looper_vt = {
	.poll = looper_poll, .drop = looper_drop, .type_name = "looper"};

static uint64_t spawn_looper(td_runtime *rt, const char *name,
			     atomic_bool *stop, unsigned ms, unsigned yields,
			     unsigned spin, td_join_handle *h)
{
	looper l = {.base = {&looper_vt}, .stop = stop, .ms = ms,
		    .yields = yields, .spin = spin};
	ck_assert_int_eq(td_spawn_named(rt, name, &l, h), 0);
	return td_join_handle_id(h);
}

/* Waits on its own notify `rounds` times (forever when 0), then ends. */
typedef struct waiter {
	td_future base;
	td_async as;
	td_notify *n;
	atomic_int *woken;
	atomic_bool *stop;
	td_notified nf;
} waiter;

static td_poll waiter_poll(td_future *f, td_context *cx)
{
	waiter *w = (waiter *)f;
	TD_BEGIN(&w->as);
	while (!atomic_load(w->stop)) {
		td_notified_init(&w->nf, w->n);
		TD_AWAIT(&w->as, &w->nf, cx); /* one place for all waiters */
		atomic_fetch_add(w->woken, 1);
	}
	TD_END(&w->as);
}

static void waiter_drop(td_future *f)
{
	td_async_drop(&((waiter *)f)->as);
}

static const td_future_vtable waiter_vt = {
	.poll = waiter_poll, .drop = waiter_drop, .type_name = "waiter"};

/* Locks a mutex, then waits on a oneshot; the healthy neighbours. */
typedef struct neighbour {
	td_future base;
	td_async as;
	td_mutex *m;
	td_oneshot *ch;
	td_mutex_lock lk;
	td_oneshot_recv rx;
} neighbour;

static td_poll neighbour_poll(td_future *f, td_context *cx)
{
	neighbour *n = (neighbour *)f;
	TD_BEGIN(&n->as);
	td_mutex_lock_init(&n->lk, n->m);
	TD_AWAIT(&n->as, &n->lk, cx);
	td_mutex_unlock(n->m);
	td_oneshot_recv_init(&n->rx, n->ch);
	TD_AWAIT(&n->as, &n->rx, cx);
	TD_END(&n->as);
}

static void neighbour_drop(td_future *f)
{
	td_async_drop(&((neighbour *)f)->as);
}

static const td_future_vtable neighbour_vt = {.poll = neighbour_poll,
					      .drop = neighbour_drop,
					      .type_name = "neighbour"};

/* Joins a task. */
typedef struct joiner {
	td_future base;
	td_async as;
	td_join j;
} joiner;

static td_poll joiner_poll(td_future *f, td_context *cx)
{
	joiner *j = (joiner *)f;
	TD_BEGIN(&j->as);
	TD_AWAIT(&j->as, &j->j, cx);
	TD_END(&j->as);
}

static void joiner_drop(td_future *f)
{
	td_async_drop(&((joiner *)f)->as);
}

static const td_future_vtable joiner_vt = {
	.poll = joiner_poll, .drop = joiner_drop, .type_name = "joiner"};

static bool finished(void *h)
{
	return td_join_handle_is_finished(h);
}

/* Wait (20 s at most) for the task to complete, and let it go. */
static void finish(td_join_handle *h)
{
	ck_assert_msg(fx_wait_until(finished, h, 20000),
		      "task %llu did not complete",
		      (unsigned long long)td_join_handle_id(h));
	td_join_handle_detach(h);
}

/* Wait until task id is idle and traced with at least `polls` polls. */
struct idle_arg {
	uint64_t id;
	uint64_t polls;
};

static bool is_idle(const td_dump *d, void *argp)
{
	struct idle_arg *a = argp;
	const td_dump_task *t = task_in(d, a->id);
	return t && t->state == TD_DUMP_IDLE && t->traced &&
	       t->polls >= a->polls;
}

/* ---- lost wake-up ---------------------------------------------------- */

START_TEST(test_lost_wakeup)
{
	td_runtime *rt = fx_runtime_new(_i, "lost");
	fx_driver *drv = fx_driver_start(rt);
	atomic_bool stop = false;
	td_mutex m;
	td_oneshot *ch;
	td_notify nt;
	atomic_int woken = 0;
	td_mutex_init(&m);
	td_notify_init(&nt);
	ch = td_oneshot_new();
	ck_assert_ptr_nonnull(ch);

	td_join_handle hf, hs, hn, hw, hj, hl;
	forgetful fg = {.base = {&forgetful_vt}};
	ck_assert_int_eq(td_spawn_named(rt, "forgetful", &fg, &hf), 0);
	uint64_t lost = td_join_handle_id(&hf);
	uint64_t sleeper = spawn_looper(rt, "sleeper", &stop, 50, 0, 0, &hs);
	neighbour nb = {.base = {&neighbour_vt}, .m = &m, .ch = ch};
	ck_assert_int_eq(td_spawn_named(rt, "neighbour", &nb, &hn), 0);
	waiter w = {.base = {&waiter_vt}, .n = &nt, .woken = &woken,
		    .stop = &stop};
	ck_assert_int_eq(td_spawn_named(rt, "waiter", &w, &hw), 0);
	/* A joiner of the sleeper (a waker in the sleeper's join slot). */
	uint64_t looper2 = spawn_looper(rt, "looper2", &stop, 20, 0, 0, &hl);
	joiner jn = {.base = {&joiner_vt}};
	ck_assert_int_eq(td_join_init(&jn.j, &hl), 0);
	ck_assert_int_eq(td_spawn_named(rt, "joiner", &jn, &hj), 0);

	struct idle_arg ia = {lost, 1};
	td_dump *d = fx_dump_until(rt, NULL, is_idle, &ia, 20000,
				   "forgetful idle");
	fx_check_consistent(d, "lost");
	const td_dump_task *t = task_in(d, lost);
	ck_assert_int_eq(t->wakers, 0);
	ck_assert_uint_eq(count_warnings(d, TD_WARN_LOST_WAKEUP, lost), 1);
	const td_dump_warning *lw = warning_of(d, TD_WARN_LOST_WAKEUP, lost);
	ck_assert_str_eq(td_dump_warning_severity(lw->kind), "error");
	ck_assert_ptr_nonnull(strstr(lw->evidence, "no waker"));
	ck_assert_ptr_nonnull(strstr(lw->evidence, "forgetful_poll"));
	/* The neighbours each hold one waker, and are not flagged. */
	uint64_t healthy[] = {sleeper, td_join_handle_id(&hn),
			      td_join_handle_id(&hw), td_join_handle_id(&hj),
			      looper2};
	for (size_t i = 0; i < sizeof(healthy) / sizeof(*healthy); i++) {
		const td_dump_task *h = task_in(d, healthy[i]);
		ck_assert_ptr_nonnull(h);
		if (h->state == TD_DUMP_IDLE)
			ck_assert_msg(h->wakers == 1,
				      "task %llu (%s): %lld wakers",
				      (unsigned long long)h->id, h->name,
				      (long long)h->wakers);
	}
	uint64_t ids[] = {lost};
	td_dump_warning_kind kinds[] = {TD_WARN_LOST_WAKEUP};
	fx_print(d, "lost");
	if (_i == 1)
		save(d, "warnings-lost");
	assert_only(d, ids, kinds, 1, "lost");
	/* Both formats carry it. */
	char *text = fx_text(d);
	ck_assert_ptr_nonnull(strstr(text, "task_warnings 1\n"
					   "task_warning error lost-wakeup "));
	ck_assert_ptr_nonnull(strstr(text, " wakers=0 "));
	free(text);
	char *json = fx_json(d);
	ck_assert_ptr_nonnull(strstr(json, "\"kind\":\"lost-wakeup\""));
	free(json);
	td_dump_free(d);

	/* Cleanup: nothing can wake the forgetful task; abort it. */
	td_join_handle_abort(&hf);
	atomic_store(&stop, true);
	td_oneshot_send(ch, NULL);
	td_notify_one(&nt);
	finish(&hf);
	td_join_handle_detach(&hs);
	td_join_handle_detach(&hn);
	td_join_handle_detach(&hw);
	td_join_handle_detach(&hj);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_mutex_destroy(&m);
	td_notify_destroy(&nt);
}
END_TEST

/* The only waker is kept in a slot, then dropped by another thread. */
START_TEST(test_dropped_waker)
{
	td_runtime *rt = fx_runtime_new(_i, "dropped");
	fx_driver *drv = fx_driver_start(rt);
	atomic_store(&slot_filled, false);
	td_join_handle h;
	slotted sl = {.base = {&slotted_vt}};
	ck_assert_int_eq(td_spawn_named(rt, "slotted", &sl, &h), 0);
	uint64_t id = td_join_handle_id(&h);
	struct idle_arg ia = {id, 1};
	td_dump *d = fx_dump_until(rt, NULL, is_idle, &ia, 20000,
				   "slotted idle");
	ck_assert(atomic_load(&slot_filled));
	ck_assert_int_eq(task_in(d, id)->wakers, 1);
	ck_assert_uint_eq(count_warnings(d, TD_WARN_LOST_WAKEUP, id), 0);
	td_dump_free(d);

	td_waker_drop(&slot); /* its only waker gone */
	ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
	fx_check_consistent(d, "dropped");
	ck_assert_int_eq(task_in(d, id)->wakers, 0);
	ck_assert_uint_eq(count_warnings(d, TD_WARN_LOST_WAKEUP, id), 1);
	td_dump_free(d);

	td_join_handle_abort(&h);
	finish(&h);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

/* ---- busy loops ------------------------------------------------------ */

static bool has_busy(const td_dump *d, void *arg)
{
	const uint64_t *ids = arg;
	return count_warnings(d, TD_WARN_BUSY_LOOP, ids[0]) &&
	       count_warnings(d, TD_WARN_BUSY_LOOP, ids[1]);
}

START_TEST(test_yield_loop)
{
	td_runtime *rt = fx_runtime_new(_i, "busy");
	fx_driver *drv = fx_driver_start(rt);
	atomic_bool stop = false;
	td_join_handle hy, hs, hm, hq;
	uint64_t yielder = spawn_looper(rt, "yielder", &stop, 0, 1, 0, &hy);
	self_waker sw = {.base = {&self_waker_vt}, .stop = &stop};
	ck_assert_int_eq(td_spawn_named(rt, "self-waker", &sw, &hs), 0);
	uint64_t selfw = td_join_handle_id(&hs);
	/* Yields ten times, then sleeps: working, not looping. */
	uint64_t moderate = spawn_looper(rt, "moderate", &stop, 5, 10, 0, &hm);
	uint64_t quiet = spawn_looper(rt, "quiet", &stop, 10, 0, 0, &hq);

	uint64_t ids[] = {yielder, selfw};
	td_dump *d = fx_dump_until(rt, NULL, has_busy, ids, 20000,
				   "both busy loops");
	const td_dump_warning *w = warning_of(d, TD_WARN_BUSY_LOOP, yielder);
	ck_assert_ptr_nonnull(strstr(w->evidence, "polls/s"));
	ck_assert_ptr_nonnull(strstr(w->evidence, "after waking itself"));
	ck_assert_uint_gt(task_in(d, yielder)->wakes, 16);
	uint64_t only[] = {yielder, selfw};
	td_dump_warning_kind kinds[] = {TD_WARN_BUSY_LOOP, TD_WARN_BUSY_LOOP};
	fx_print(d, "busy");
	assert_only(d, only, kinds, 2, "busy");
	ck_assert_uint_eq(count_warnings(d, TD_WARN_BUSY_LOOP, moderate), 0);
	ck_assert_uint_eq(count_warnings(d, TD_WARN_BUSY_LOOP, quiet), 0);
	td_dump_free(d);

	atomic_store(&stop, true);
	finish(&hy);
	finish(&hs);
	finish(&hm);
	finish(&hq);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

/* ---- long poll ------------------------------------------------------- */

START_TEST(test_long_poll)
{
	td_runtime *rt = fx_runtime_new(_i, "long");
	fx_driver *drv = fx_driver_start(rt);
	atomic_bool stop = false;
	td_join_handle hl, hq;
	uint64_t spinner = spawn_looper(rt, "spinner", &stop, 10, 0, 200, &hl);
	uint64_t quiet = spawn_looper(rt, "quiet", &stop, 10, 0, 0, &hq);
	struct idle_arg ia = {spinner, 2};
	td_dump *d = fx_dump_until(rt, NULL, is_idle, &ia, 20000,
				   "spinner done spinning");
	fx_check_consistent(d, "long poll");
	const td_dump_task *t = task_in(d, spinner);
	/* 200 ms on a clock of a few ms granularity. */
	ck_assert_uint_ge(t->slowest_poll_ms, 150);
	ck_assert_uint_ge(t->busy_ms, t->slowest_poll_ms);
	const td_dump_warning *w = warning_of(d, TD_WARN_LONG_POLL, spinner);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(strstr(w->evidence, "slowest poll took"));
	uint64_t ids[] = {spinner};
	td_dump_warning_kind kinds[] = {TD_WARN_LONG_POLL};
	fx_print(d, "long poll");
	assert_only(d, ids, kinds, 1, "long poll");
	ck_assert_uint_lt(task_in(d, quiet)->slowest_poll_ms, 100);
	td_dump_free(d);

	atomic_store(&stop, true);
	finish(&hl);
	finish(&hq);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

/* ---- starved and never polled (current-thread) ----------------------- */

/* Spins `ms` in its first poll once *go is set, then ends. */
typedef struct hog {
	td_future base;
	td_async as;
	atomic_bool *go, *spinning;
	unsigned ms;
	td_sleep sl;
} hog;

static td_poll hog_poll(td_future *f, td_context *cx)
{
	hog *h = (hog *)f;
	TD_BEGIN(&h->as);
	while (!atomic_load(h->go)) {
		td_sleep_init(&h->sl, 1);
		TD_AWAIT(&h->as, &h->sl, cx);
	}
	atomic_store(h->spinning, true);
	spin_ms(h->ms);
	TD_END(&h->as);
}

static void hog_drop(td_future *f)
{
	td_async_drop(&((hog *)f)->as);
}

static const td_future_vtable hog_vt = {
	.poll = hog_poll, .drop = hog_drop, .type_name = "hog"};

static bool starved_seen(const td_dump *d, void *arg)
{
	const uint64_t *ids = arg; /* hog, woken, fresh */
	return count_warnings(d, TD_WARN_STARVED, ids[1]) &&
	       count_warnings(d, TD_WARN_NEVER_POLLED, ids[2]) &&
	       count_warnings(d, TD_WARN_LONG_POLL, ids[0]);
}

START_TEST(test_starved)
{
	td_runtime *rt = fx_runtime_new(0, "starved"); /* current-thread */
	fx_driver *drv = fx_driver_start(rt);
	atomic_bool go = false, spinning = false, stop = false;
	td_notify nt;
	atomic_int woken = 0;
	td_notify_init(&nt);
	td_join_handle hh, hw, hf;
	hog hg = {.base = {&hog_vt}, .go = &go, .spinning = &spinning,
		  .ms = 2500};
	ck_assert_int_eq(td_spawn_named(rt, "hog", &hg, &hh), 0);
	waiter w = {.base = {&waiter_vt}, .n = &nt, .woken = &woken,
		    .stop = &stop};
	ck_assert_int_eq(td_spawn_named(rt, "woken", &w, &hw), 0);
	struct idle_arg ia = {td_join_handle_id(&hw), 1};
	td_dump *d = fx_dump_until(rt, NULL, is_idle, &ia, 20000,
				   "waiter idle");
	td_dump_free(d);

	atomic_store(&go, true);
	while (!atomic_load(&spinning))
		fx_sleep_ms(1);
	td_notify_one(&nt); /* woken, but the thread is stuck in the hog */
	uint64_t fresh = spawn_looper(rt, "fresh", &stop, 1, 0, 0, &hf);
	uint64_t ids[] = {td_join_handle_id(&hh), td_join_handle_id(&hw),
			  fresh};
	td_dump_options o = {.starved_ms = 300, .never_polled_ms = 300};
	d = fx_dump_until(rt, &o, starved_seen, ids, 2000, "starved");
	ck_assert(atomic_load(&spinning));
	const td_dump_task *t = task_in(d, ids[1]);
	ck_assert_int_eq(t->state, TD_DUMP_NOTIFIED);
	ck_assert_uint_ge(t->woken_ms, 300);
	ck_assert_uint_eq(task_in(d, fresh)->polls, 0);
	ck_assert_uint_ge(task_in(d, fresh)->woken_ms, 300);
	const td_dump_warning *lp = warning_of(d, TD_WARN_LONG_POLL, ids[0]);
	ck_assert_ptr_nonnull(strstr(lp->evidence, "in one poll for"));
	td_dump_warning_kind kinds[] = {TD_WARN_LONG_POLL, TD_WARN_STARVED,
					TD_WARN_NEVER_POLLED};
	fx_print(d, "starved");
	save(d, "warnings-starved");
	assert_only(d, ids, kinds, 3, "starved");
	/* Most severe first: long-poll, starved, never-polled. */
	ck_assert_int_eq(d->task_warnings[0].kind, TD_WARN_LONG_POLL);
	ck_assert_int_eq(d->task_warnings[1].kind, TD_WARN_STARVED);
	ck_assert_int_eq(d->task_warnings[2].kind, TD_WARN_NEVER_POLLED);
	td_dump_free(d);

	finish(&hh);
	ck_assert(fx_wait_count(&woken, 1, 20000));
	/* Once the thread is free again, the worst wait stays on record. */
	struct idle_arg ib = {ids[1], 2};
	d = fx_dump_until(rt, NULL, is_idle, &ib, 20000, "woken ran");
	ck_assert_uint_ge(task_in(d, ids[1])->wait_worst_ms, 300);
	ck_assert_uint_eq(count_warnings(d, TD_WARN_STARVED, ids[1]), 0);
	td_dump_free(d);
	atomic_store(&stop, true);
	td_notify_one(&nt);
	finish(&hw);
	finish(&hf);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_notify_destroy(&nt);
}
END_TEST

/* ---- long wait ------------------------------------------------------- */

#define NWAITERS 8

struct long_wait_arg {
	uint64_t id;
	td_notify *nts;
};

static bool long_wait_seen(const td_dump *d, void *argp)
{
	struct long_wait_arg *a = argp;
	/* Keep the others busy between dumps. */
	for (int i = 0; i < NWAITERS - 1; i++)
		td_notify_one(&a->nts[i]);
	return count_warnings(d, TD_WARN_LONG_WAIT, a->id) > 0;
}

START_TEST(test_long_wait)
{
	td_runtime *rt = fx_runtime_new(_i, "wait");
	fx_driver *drv = fx_driver_start(rt);
	atomic_bool stop = false;
	atomic_int woken = 0;
	td_notify nts[NWAITERS];
	td_join_handle hs[NWAITERS];
	uint64_t ids[NWAITERS];
	for (int i = 0; i < NWAITERS; i++) {
		td_notify_init(&nts[i]);
		waiter w = {.base = {&waiter_vt}, .n = &nts[i],
			    .woken = &woken, .stop = &stop};
		ck_assert_int_eq(td_spawn_named(rt, "conn", &w, &hs[i]), 0);
		ids[i] = td_join_handle_id(&hs[i]);
	}
	td_dump_options o = {.long_wait_ms = 300, .long_wait_factor = 5};
	struct long_wait_arg a = {ids[NWAITERS - 1], nts};
	td_dump *d = fx_dump_until(rt, &o, long_wait_seen, &a, 20000,
				   "long wait");
	const td_dump_warning *w =
		warning_of(d, TD_WARN_LONG_WAIT, ids[NWAITERS - 1]);
	ck_assert_str_eq(td_dump_warning_severity(w->kind), "info");
	ck_assert_ptr_nonnull(strstr(w->evidence, "the median"));
	ck_assert_ptr_nonnull(strstr(w->evidence, "waiter_poll"));
	uint64_t only[] = {ids[NWAITERS - 1]};
	td_dump_warning_kind kinds[] = {TD_WARN_LONG_WAIT};
	fx_print(d, "long wait");
	assert_only(d, only, kinds, 1, "long wait");
	td_dump_free(d);

	atomic_store(&stop, true);
	for (int i = 0; i < NWAITERS; i++) {
			td_notify_one(&nts[i]);
		finish(&hs[i]);
		td_notify_destroy(&nts[i]);
	}
	fx_driver_stop(drv);
	td_runtime_free(rt);
}
END_TEST

/* ---- healthy: no false alarm ---------------------------------------- */

#define NDUMPS 20

START_TEST(test_healthy)
{
	td_runtime *rt = fx_runtime_new(_i, "healthy");
	fx_driver *drv = fx_driver_start(rt);
	atomic_bool stop = false;
	atomic_int woken = 0;
	td_mutex m;
	td_notify nt;
	td_mutex_init(&m);
	td_notify_init(&nt);
	td_join_handle h[8];
	spawn_looper(rt, "sleeper", &stop, 3, 0, 0, &h[0]);
	spawn_looper(rt, "yielder", &stop, 2, 5, 0, &h[1]);
	spawn_looper(rt, "ticker", &stop, 1, 0, 0, &h[2]);
	waiter w = {.base = {&waiter_vt}, .n = &nt, .woken = &woken,
		    .stop = &stop};
	ck_assert_int_eq(td_spawn_named(rt, "waiter", &w, &h[3]), 0);
	spawn_looper(rt, "sleeper", &stop, 7, 1, 0, &h[4]);
	td_join_handle hl;
	spawn_looper(rt, "joined", &stop, 4, 0, 0, &hl);
	joiner jn = {.base = {&joiner_vt}};
	ck_assert_int_eq(td_join_init(&jn.j, &hl), 0);
	ck_assert_int_eq(td_spawn_named(rt, "joiner", &jn, &h[5]), 0);

	for (int k = 0; k < NDUMPS; k++) {
		td_notify_one(&nt);
		td_dump *d;
		ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
		fx_check_consistent(d, "healthy");
		assert_only(d, NULL, NULL, 0, "healthy");
		const td_dump_runtime *r = fx_only_runtime(d);
		for (size_t i = 0; i < r->ntasks; i++)
			if (r->tasks[i].state == TD_DUMP_IDLE &&
			    !r->tasks[i].is_block_on)
				ck_assert_int_ge(r->tasks[i].wakers, 1);
		td_dump_free(d);
		fx_sleep_ms(10);
	}
	atomic_store(&stop, true);
	td_notify_one(&nt);
	for (int i = 0; i < 6; i++) {
			finish(&h[i]);
	}
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_mutex_destroy(&m);
	td_notify_destroy(&nt);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_warnings");
	TCase *tc = tcase_create("warnings");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, test_lost_wakeup, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_dropped_waker, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_yield_loop, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_long_poll, 0, FX_NFLAVORS);
	tcase_add_test(tc, test_starved);
	tcase_add_loop_test(tc, test_long_wait, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_healthy, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
