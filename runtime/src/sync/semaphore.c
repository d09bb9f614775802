/* semaphore.c - the async FIFO counting semaphore (taskdump/semaphore.h).
 *
 * Invariants, all under s->lock:
 * - Permits are granted all-or-nothing to the head of the waiter list
 *   only; a head that wants more than is available blocks everyone behind
 *   it.  So after every change (release, a head leaving) grant_locked()
 *   runs until the head does not fit.
 * - A future on the list is WAITING.  Granting (or closing) unlinks it,
 *   stores its result in `error`, moves its waker out and stores GRANTED
 *   with release order as the last access: afterwards only its owner
 *   touches it, and may read `error` without the lock after an acquire
 *   load of `state`.
 *
 * `permits` and `closed` are also read without the lock (a fast-path peek,
 * td_semaphore_available, the leaf hook), hence relaxed __atomic accesses.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "taskdump/semaphore.h"
#include "sync/waitlist.h"
#include "trace/leaf.h"

enum {
	AQ_INIT = 0,  /* never polled for real */
	AQ_WAITING,   /* on the waiter list */
	AQ_GRANTED,   /* permits granted (error 0) or closed (-EPIPE) */
	AQ_DONE,      /* READY returned, or dropped */
};

static inline int load_state(const td_semaphore_acquire *f)
{
	return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
}

static inline void store_state(td_semaphore_acquire *f, int st)
{
	__atomic_store_n(&f->state, st, __ATOMIC_RELEASE);
}

static inline size_t peek_permits(const td_semaphore *s)
{
	return __atomic_load_n(&s->permits, __ATOMIC_RELAXED);
}

static inline void set_permits(td_semaphore *s, size_t n)
{
	__atomic_store_n(&s->permits, n, __ATOMIC_RELAXED);
}

void td_semaphore_init(td_semaphore *s, size_t permits)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->permits = permits;
}

void td_semaphore_destroy(td_semaphore *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Under s->lock: finish waiter w with `error`; its waker joins the batch.
 * The caller has unlinked w already. */
static void finish_waiter(td_semaphore_acquire *w, int error,
			  struct sync_wake_batch *b)
{
	w->error = error;
	sync_wake_add(b, &w->waker);
	store_state(w, AQ_GRANTED); /* last access: the owner may free w */
}

/* Under s->lock: hand permits to the oldest waiters while the head's
 * request fits.  When the batch fills up, its wakers are woken with the
 * lock dropped (the granted waiters are off the list already, so the
 * list stays consistent); the caller wakes the rest after unlocking. */
static void grant_locked(td_semaphore *s, struct sync_wake_batch *b)
{
	td_sync_link *n;

	while ((n = s->waiters.head) != NULL) {
		td_semaphore_acquire *w =
			sync_container_of(n, td_semaphore_acquire, link);
		if (w->wanted > s->permits)
			break;
		sync_list_remove(&s->waiters, n);
		set_permits(s, s->permits - w->wanted);
		finish_waiter(w, 0, b);
		if (sync_wake_full(b)) {
			sync_unlock(&s->lock);
			sync_wake_all(b);
			sync_lock(&s->lock);
		}
	}
}

/* Our permits (or the close) arrived: complete, budget permitting. */
static td_poll acquire_granted(td_semaphore_acquire *f, td_context *cx)
{
	if (!td_coop_proceed(cx))
		return TD_PENDING; /* stays GRANTED; the task was re-woken */
	store_state(f, AQ_DONE);
	return TD_READY;
}

static td_poll acquire_first_poll(td_semaphore_acquire *f, td_context *cx)
{
	td_semaphore *s = f->sem;

	/* Looks like we complete at once: ask the budget before taking. */
	if ((__atomic_load_n(&s->closed, __ATOMIC_RELAXED) ||
	     peek_permits(s) >= f->wanted) &&
	    !td_coop_proceed(cx))
		return TD_PENDING;

	sync_lock(&s->lock);
	if (s->closed) {
		f->error = -EPIPE;
	} else if (f->wanted == 0 ||
		   (sync_list_empty(&s->waiters) && s->permits >= f->wanted)) {
		set_permits(s, s->permits - f->wanted);
		f->error = 0;
	} else {
		f->waker = td_waker_clone(cx->waker);
		sync_list_push_back(&s->waiters, &f->link);
		store_state(f, AQ_WAITING);
		sync_unlock(&s->lock);
		return TD_PENDING;
	}
	store_state(f, AQ_DONE);
	sync_unlock(&s->lock);
	return TD_READY;
}

static td_poll acquire_wait_poll(td_semaphore_acquire *f, td_context *cx)
{
	td_semaphore *s = f->sem;
	td_waker old = {NULL, NULL};

	sync_lock(&s->lock);
	if (load_state(f) == AQ_WAITING) {
		sync_waker_update(&f->waker, cx->waker, &old);
		sync_unlock(&s->lock);
		td_waker_drop(&old);
		return TD_PENDING;
	}
	sync_unlock(&s->lock);
	return acquire_granted(f, cx);
}

static td_poll td_semaphore_acquire_poll(td_future *fut, td_context *cx)
{
	td_semaphore_acquire *f = (td_semaphore_acquire *)fut;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_SEMAPHORE, .object = f->sem,
		     .count = f->wanted, .value = peek_permits(f->sem));

	switch (load_state(f)) {
	case AQ_INIT:
		return acquire_first_poll(f, cx);
	case AQ_WAITING:
		return acquire_wait_poll(f, cx);
	case AQ_GRANTED:
		return acquire_granted(f, cx);
	default:
		return TD_READY;
	}
}

static void acquire_drop(td_future *fut)
{
	td_semaphore_acquire *f = (td_semaphore_acquire *)fut;
	td_semaphore *s = f->sem;
	td_waker mine = {NULL, NULL};
	struct sync_wake_batch b;
	int st = load_state(f);

	if (st == AQ_INIT || st == AQ_DONE)
		return;
	sync_wake_init(&b);
	sync_lock(&s->lock);
	if (load_state(f) == AQ_WAITING) {
		/* Leaving from the head may unblock smaller requests. */
		bool was_head = s->waiters.head == &f->link;
		sync_list_remove(&s->waiters, &f->link);
		mine = sync_waker_take(&f->waker);
		if (was_head)
			grant_locked(s, &b);
	} else if (f->error == 0) {
		/* Granted but never used: give the permits back. */
		set_permits(s, s->permits + f->wanted);
		grant_locked(s, &b);
	}
	store_state(f, AQ_DONE);
	sync_unlock(&s->lock);
	td_waker_drop(&mine);
	sync_wake_all(&b);
}

static const td_future_vtable acquire_vtable = {
	.poll = td_semaphore_acquire_poll,
	.drop = acquire_drop,
	.type_name = "td_semaphore_acquire",
};

void td_semaphore_acquire_init(td_semaphore_acquire *f, td_semaphore *s,
			       size_t n)
{
	memset(f, 0, sizeof(*f));
	f->base.vtable = &acquire_vtable;
	f->sem = s;
	f->wanted = n;
	f->state = AQ_INIT;
}

int td_semaphore_try_acquire(td_semaphore *s, size_t n)
{
	int rc;

	sync_lock(&s->lock);
	if (s->closed) {
		rc = -EPIPE;
	} else if (n == 0) {
		rc = 0;
	} else if (!sync_list_empty(&s->waiters) || s->permits < n) {
		rc = -EAGAIN;
	} else {
		set_permits(s, s->permits - n);
		rc = 0;
	}
	sync_unlock(&s->lock);
	return rc;
}

void td_semaphore_release(td_semaphore *s, size_t n)
{
	struct sync_wake_batch b;

	sync_wake_init(&b);
	sync_lock(&s->lock);
	/* Saturate rather than wrap: SIZE_MAX permits is "unlimited". */
	set_permits(s, s->permits > SIZE_MAX - n ? SIZE_MAX : s->permits + n);
	grant_locked(s, &b);
	sync_unlock(&s->lock);
	sync_wake_all(&b);
}

size_t td_semaphore_available(const td_semaphore *s)
{
	return peek_permits(s);
}

void td_semaphore_close(td_semaphore *s)
{
	struct sync_wake_batch b;
	td_sync_link *n;

	sync_wake_init(&b);
	sync_lock(&s->lock);
	__atomic_store_n(&s->closed, true, __ATOMIC_RELAXED);
	while ((n = sync_list_pop_front(&s->waiters)) != NULL) {
		finish_waiter(sync_container_of(n, td_semaphore_acquire, link),
			      -EPIPE, &b);
		if (sync_wake_full(&b)) {
			sync_unlock(&s->lock);
			sync_wake_all(&b);
			sync_lock(&s->lock);
		}
	}
	sync_unlock(&s->lock);
	sync_wake_all(&b);
}

bool td_semaphore_is_closed(const td_semaphore *s)
{
	return __atomic_load_n(&s->closed, __ATOMIC_RELAXED);
}
