/* mutex.c - the async FIFO mutex (taskdump/mutex.h).
 *
 * Invariants, all under m->lock:
 * - A non-empty waiter list implies `locked`: unlock hands the lock to the
 *   oldest waiter instead of releasing it, so "free" is simply !locked and
 *   nobody can take the lock past a queued waiter.
 * - A future on the list is WAITING.  A hand-off unlinks the head, makes
 *   its task the holder, moves its waker out and stores GRANTED (with
 *   release order) as the very last access to that future: from then on
 *   only the future's owner touches it (poll: GRANTED -> DONE; drop: pass
 *   the lock on), possibly without taking the lock.
 *
 * `locked`, `holder` and `held_since` are written under the lock but also
 * read without it (a fast-path peek, td_mutex_holder_id, the leaf hook
 * during dumps), so every access is a relaxed __atomic one.  `held_since`
 * is the time of the latest hand-over to `holder` (one store per lock and
 * unlock: what dumps show as "held N ms"), in the task clock's wrapping
 * milliseconds: the start of the poll that takes or hands over the lock
 * (the harness read the clock then); a hand-over from outside a task
 * reads the clock; a lock taken outside a task has no time (no task
 * holds it).  `state` is read by the owner without the lock (acquire) to
 * notice a hand-off cheaply.
 *
 * The registry (sync/lockreg.h): a mutex is linked at its first lock,
 * before its own lock is taken (lock order), by whoever finds
 * `registered` false; on the lock path that is one relaxed load and a
 * branch, the unlock path does nothing more.  Dumps walk the registry
 * for the mutexes held by tasks, reading `locked`, `holder` and
 * `held_since` with relaxed loads (never m->lock: see the lock order).
 */
#include <string.h>

#include "taskdump/mutex.h"
#include "taskdump/task.h"
#include "sync/lockreg.h"
#include "sync/waitlist.h"
#include "task/core.h"
#include "task/current.h"
#include "trace/leaf.h"

enum {
	LK_INIT = 0,   /* never polled, or polled only in tracing mode */
	LK_WAITING,    /* on the waiter list */
	LK_GRANTED,    /* handed the lock, not yet polled to READY */
	LK_DONE,       /* READY returned (caller holds the lock), or dropped */
};

static inline int load_state(const td_mutex_lock *f)
{
	return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
}

static inline void store_state(td_mutex_lock *f, int st)
{
	__atomic_store_n(&f->state, st, __ATOMIC_RELEASE);
}

/* Now, for held_since, without a clock read on the lock path of a task:
 * the start of the current poll.  Outside tasks the holder is no task
 * (0), and its time is not shown: 0 too. */
static inline uint32_t lock_time(void)
{
	const struct td_task *t = td_tls_current_task;
	return t ? atomic_load_explicit(&t->last_poll, memory_order_relaxed)
		 : 0;
}

static inline void set_locked(td_mutex *m, bool locked, uint64_t holder)
{
	__atomic_store_n(&m->locked, locked, __ATOMIC_RELAXED);
	__atomic_store_n(&m->holder, holder, __ATOMIC_RELAXED);
	__atomic_store_n(&m->held_since, locked ? lock_time() : 0,
			 __ATOMIC_RELAXED);
}

void td_mutex_init(td_mutex *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void td_mutex_destroy(td_mutex *m)
{
	td_lockreg_remove(&td_lockreg_mutexes, &m->reg, &m->registered);
	pthread_mutex_destroy(&m->lock);
}

/* Linked into the registry at the first lock (see the top). */
static inline void ensure_registered(td_mutex *m)
{
	if (__builtin_expect(!__atomic_load_n(&m->registered, __ATOMIC_RELAXED),
			     0))
		td_lockreg_add(&td_lockreg_mutexes, &m->reg, &m->registered);
}

/* Under m->lock, by the holder: give the lock to the oldest waiter, or
 * leave the mutex free.  Returns the waker to wake after unlocking. */
static td_waker release_locked(td_mutex *m)
{
	td_sync_link *n = sync_list_pop_front(&m->waiters);

	if (!n) {
		set_locked(m, false, 0);
		return (td_waker){NULL, NULL};
	}
	td_mutex_lock *w = sync_container_of(n, td_mutex_lock, link);
	/* A hand-over (the slow path: it wakes a task) from outside a task
	 * reads the clock. */
	uint32_t now = lock_time();
	__atomic_store_n(&m->holder, w->task_id, __ATOMIC_RELAXED);
	__atomic_store_n(&m->held_since, now ? now : td_task_clock32(),
			 __ATOMIC_RELAXED);
	td_waker wk = sync_waker_take(&w->waker);
	store_state(w, LK_GRANTED); /* last access to w: its owner may free it */
	return wk;
}

/* The lock was handed to us: complete, budget permitting. */
static td_poll lock_granted(td_mutex_lock *f, td_context *cx)
{
	if (!td_coop_proceed(cx))
		return TD_PENDING; /* still GRANTED; the task was re-woken */
	store_state(f, LK_DONE);
	return TD_READY;
}

static td_poll lock_first_poll(td_mutex_lock *f, td_context *cx)
{
	td_mutex *m = f->mutex;
	uint64_t me = td_task_current_id();

	/* The lock looks free, so we expect to complete without waiting:
	 * the cooperative budget must agree before we take anything. */
	if (!__atomic_load_n(&m->locked, __ATOMIC_RELAXED) &&
	    !td_coop_proceed(cx))
		return TD_PENDING;

	ensure_registered(m);
	sync_lock(&m->lock);
	if (!m->locked) {
		set_locked(m, true, me);
		store_state(f, LK_DONE);
		sync_unlock(&m->lock);
		return TD_READY;
	}
	f->task_id = me;
	f->waker = td_waker_clone(cx->waker);
	sync_list_push_back(&m->waiters, &f->link);
	store_state(f, LK_WAITING);
	sync_unlock(&m->lock);
	return TD_PENDING;
}

/* Polled again while queued: refresh the waker unless handed the lock. */
static td_poll lock_wait_poll(td_mutex_lock *f, td_context *cx)
{
	td_mutex *m = f->mutex;
	td_waker old = {NULL, NULL};

	sync_lock(&m->lock);
	if (load_state(f) == LK_WAITING) {
		sync_waker_update(&f->waker, cx->waker, &old);
		sync_unlock(&m->lock);
		td_waker_drop(&old);
		return TD_PENDING;
	}
	sync_unlock(&m->lock);
	return lock_granted(f, cx);
}

static td_poll td_mutex_lock_poll(td_future *fut, td_context *cx)
{
	td_mutex_lock *f = (td_mutex_lock *)fut;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_MUTEX, .object = f->mutex,
		     .task_id = __atomic_load_n(&f->mutex->holder,
						__ATOMIC_RELAXED),
		     .since_ms = __atomic_load_n(&f->mutex->held_since,
						 __ATOMIC_RELAXED),
		     .flags = load_state(f) == LK_GRANTED ? TD_WAIT_GRANTED
							  : 0);

	switch (load_state(f)) {
	case LK_INIT:
		return lock_first_poll(f, cx);
	case LK_WAITING:
		return lock_wait_poll(f, cx);
	case LK_GRANTED:
		return lock_granted(f, cx);
	default:
		return TD_READY;
	}
}

static void lock_drop(td_future *fut)
{
	td_mutex_lock *f = (td_mutex_lock *)fut;
	td_mutex *m = f->mutex;
	td_waker mine = {NULL, NULL}, next = {NULL, NULL};
	int st = load_state(f);

	if (st == LK_INIT || st == LK_DONE)
		return;
	sync_lock(&m->lock);
	/* Re-read under the lock: a hand-off may have raced with us. */
	if (load_state(f) == LK_WAITING) {
		sync_list_remove(&m->waiters, &f->link);
		mine = sync_waker_take(&f->waker);
	} else {
		/* GRANTED: we hold the lock but nobody will use it. */
		next = release_locked(m);
	}
	store_state(f, LK_DONE);
	sync_unlock(&m->lock);
	td_waker_drop(&mine);
	td_waker_wake(&next);
}

static const td_future_vtable lock_vtable = {
	.poll = td_mutex_lock_poll,
	.drop = lock_drop,
	.type_name = "td_mutex_lock",
};

void td_mutex_lock_init(td_mutex_lock *f, td_mutex *m)
{
	memset(f, 0, sizeof(*f));
	f->base.vtable = &lock_vtable;
	f->mutex = m;
	f->state = LK_INIT;
}

bool td_mutex_try_lock(td_mutex *m)
{
	uint64_t me = td_task_current_id();
	bool ok;

	if (__atomic_load_n(&m->locked, __ATOMIC_RELAXED))
		return false;
	ensure_registered(m);
	sync_lock(&m->lock);
	ok = !m->locked;
	if (ok)
		set_locked(m, true, me);
	sync_unlock(&m->lock);
	return ok;
}

void td_mutex_unlock(td_mutex *m)
{
	td_waker next = {NULL, NULL};

	sync_lock(&m->lock);
	if (m->locked)
		next = release_locked(m);
	sync_unlock(&m->lock);
	td_waker_wake(&next);
}

uint64_t td_mutex_holder_id(const td_mutex *m)
{
	return __atomic_load_n(&m->holder, __ATOMIC_RELAXED);
}

bool td_mutex_is_locked(const td_mutex *m)
{
	return __atomic_load_n(&m->locked, __ATOMIC_RELAXED);
}

/* ---- for dumps -------------------------------------------------------- */

struct held_walk {
	void (*fn)(const struct td_held_fact *f, void *arg);
	void *arg;
};

static void visit_mutex(td_sync_link *link, void *arg)
{
	const struct held_walk *w = arg;
	const td_mutex *m = sync_container_of(link, td_mutex, reg);

	/* Relaxed snapshots, which may be torn against a concurrent lock or
	 * unlock by a thread that is not paused (a holder of 0 is no task). */
	if (!__atomic_load_n(&m->locked, __ATOMIC_RELAXED))
		return;
	uint64_t holder = __atomic_load_n(&m->holder, __ATOMIC_RELAXED);
	if (!holder)
		return;
	struct td_held_fact f = {
		.object = m,
		.kind = TD_WAIT_MUTEX,
		.holder = holder,
		.since = __atomic_load_n(&m->held_since, __ATOMIC_RELAXED),
	};
	w->fn(&f, w->arg);
}

void td_mutex_held_for_each(void (*fn)(const struct td_held_fact *f,
				       void *arg),
			    void *arg)
{
	struct held_walk w = {fn, arg};
	td_lockreg_for_each(&td_lockreg_mutexes, visit_mutex, &w);
}
