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
 *
 * Who holds permits (for dumps), all under s->lock too:
 * - `total` is available + out, "out" being the permits taken and not
 *   given back.  A release gives back out permits first; what exceeds
 *   `out` creates permits (total grows).  So `out` = total - permits is
 *   exact, whoever releases.
 * - Each acquisition is attributed to its task: its slot in `holders`
 *   (claimed when it had none, `since` then), else `overflow` (no free
 *   slot); taken outside a task (id 0: a plain thread, a block_on
 *   future), `outside`.  A release by task T takes back from T's slot
 *   first (id 0: from `outside`); whatever exceeds that is unmatched.
 * - Hence known = sum of the slots + outside + overflow >= out, equal
 *   while every release was matched: the attribution is exact.  An
 *   unmatched release (a task giving back permits it did not take, or
 *   creating some) leaves known > out, and nobody can say which slot is
 *   stale: dumps then list no holder of it.  When out reaches 0 every
 *   attribution is void and all are cleared: exact again.
 * - A granted waiter is attributed at the grant (to the task that queued
 *   it); a granted acquire dropped unused gives its permits back for that
 *   task.
 * The cost: a scan of the few slots at each acquire and release, under
 * the lock these take anyway; no allocation.
 *
 * The registry (sync/lockreg.h): a semaphore is linked at its first
 * acquire, before s->lock is taken (lock order: the dump's walk takes
 * s->lock under a shard lock).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "taskdump/semaphore.h"
#include "taskdump/task.h"
#include "sync/lockreg.h"
#include "sync/waitlist.h"
#include "task/core.h"
#include "task/current.h"
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
	s->total = permits;
}

void td_semaphore_destroy(td_semaphore *s)
{
	td_lockreg_remove(&td_lockreg_semaphores, &s->reg, &s->registered);
	pthread_mutex_destroy(&s->lock);
}

/* Linked into the registry at the first acquire (see the top). */
static inline void ensure_registered(td_semaphore *s)
{
	if (__builtin_expect(!__atomic_load_n(&s->registered, __ATOMIC_RELAXED),
			     0))
		td_lockreg_add(&td_lockreg_semaphores, &s->reg,
			       &s->registered);
}

/* ---- holders (see the top) -------------------------------------------- */

/* td_task_current_id(), inline: the lock paths read it once each. */
static inline uint64_t current_id(void)
{
	const struct td_task *t = td_tls_current_task;
	return t ? t->id : 0;
}

/* Now, for a holder's `since`: the start of the current task's poll (no
 * clock read), or the clock outside tasks. */
static inline uint32_t take_time(void)
{
	const struct td_task *t = td_tls_current_task;
	uint32_t now = t ? atomic_load_explicit(&t->last_poll,
						memory_order_relaxed)
			 : 0;
	return now ? now : td_task_clock32();
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The slots are packed, used ones first, so that a scan stops at the
 * first free slot (with no holder: one compare). */

/* Under s->lock: task `task` (0: outside tasks) took n permits. */
static inline __attribute__((always_inline)) void
attribute(td_semaphore *s, uint64_t task, size_t n)
{
	if (n == 0)
		return;
	if (!task) {
		s->outside = add_sat(s->outside, n);
		return;
	}
	for (size_t i = 0; i < TD_SEMAPHORE_HOLDERS; i++) {
		td_semaphore_holder *h = &s->holders[i];
		if (h->task == task) {
			h->permits = add_sat(h->permits, n);
			return;
		}
		if (!h->task) {
			*h = (td_semaphore_holder){task, n, take_time()};
			return;
		}
	}
	s->overflow = add_sat(s->overflow, n);
}

/* Under s->lock: task `task` (0: outside tasks) gives back n permits;
 * only what it holds is matched (the rest leaves known > out). */
static inline __attribute__((always_inline)) void
give_back(td_semaphore *s, uint64_t task, size_t n)
{
	if (!task) {
		s->outside -= n < s->outside ? n : s->outside;
		return;
	}
	for (size_t i = 0; i < TD_SEMAPHORE_HOLDERS && s->holders[i].task;
	     i++) {
		td_semaphore_holder *h = &s->holders[i];
		if (h->task != task)
			continue;
		h->permits -= n < h->permits ? n : h->permits;
		if (h->permits)
			return;
		/* Free: the last used slot moves here (packed). */
		size_t last = i;
		while (last + 1 < TD_SEMAPHORE_HOLDERS &&
		       s->holders[last + 1].task)
			last++;
		if (last != i)
			*h = s->holders[last];
		s->holders[last] = (td_semaphore_holder){0, 0, 0};
		return;
	}
}

/* Under s->lock, after permits were added: `total` covers them, and with
 * every permit back no attribution is left. */
static inline __attribute__((always_inline)) void
after_release(td_semaphore *s)
{
	if (s->permits > s->total)
		s->total = s->permits;
	if (s->permits != s->total ||
	    !(s->holders[0].task | s->outside | s->overflow))
		return;
	memset(s->holders, 0, sizeof(s->holders));
	s->outside = s->overflow = 0;
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
		attribute(s, w->task_id, w->wanted);
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
	uint64_t me = current_id();

	/* Looks like we complete at once: ask the budget before taking. */
	if ((__atomic_load_n(&s->closed, __ATOMIC_RELAXED) ||
	     peek_permits(s) >= f->wanted) &&
	    !td_coop_proceed(cx))
		return TD_PENDING;

	ensure_registered(s);
	sync_lock(&s->lock);
	if (s->closed) {
		f->error = -EPIPE;
	} else if (f->wanted == 0 ||
		   (sync_list_empty(&s->waiters) && s->permits >= f->wanted)) {
		set_permits(s, s->permits - f->wanted);
		attribute(s, me, f->wanted);
		f->error = 0;
	} else {
		f->task_id = me;
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
		     .count = f->wanted, .value = peek_permits(f->sem),
		     .flags = load_state(f) == AQ_GRANTED && f->error == 0
				      ? TD_WAIT_GRANTED
				      : 0);

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
		give_back(s, f->task_id, f->wanted);
		set_permits(s, s->permits + f->wanted);
		after_release(s);
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
	uint64_t me = current_id();
	int rc;

	ensure_registered(s);
	sync_lock(&s->lock);
	if (s->closed) {
		rc = -EPIPE;
	} else if (n == 0) {
		rc = 0;
	} else if (!sync_list_empty(&s->waiters) || s->permits < n) {
		rc = -EAGAIN;
	} else {
		set_permits(s, s->permits - n);
		attribute(s, me, n);
		rc = 0;
	}
	sync_unlock(&s->lock);
	return rc;
}

void td_semaphore_release(td_semaphore *s, size_t n)
{
	struct sync_wake_batch b;
	uint64_t me = current_id();

	sync_wake_init(&b);
	sync_lock(&s->lock);
	give_back(s, me, n);
	/* Saturate rather than wrap: SIZE_MAX permits is "unlimited". */
	set_permits(s, add_sat(s->permits, n));
	after_release(s);
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

/* ---- for dumps -------------------------------------------------------- */

struct held_walk {
	void (*fn)(const struct td_held_fact *f, void *arg);
	void *arg;
};

/* The holders of one semaphore, read under its lock, reported after it:
 * only when the attribution is exact (see the top). */
static void visit_semaphore(td_sync_link *link, void *arg)
{
	const struct held_walk *w = arg;
	td_semaphore *s = sync_container_of(link, td_semaphore, reg);
	struct td_held_fact f[TD_SEMAPHORE_HOLDERS];
	size_t n = 0;

	sync_lock(&s->lock);
	size_t out = s->total - s->permits, known = s->outside + s->overflow;
	for (size_t i = 0; i < TD_SEMAPHORE_HOLDERS; i++)
		known = add_sat(known, s->holders[i].permits);
	for (size_t i = 0; out && known == out && i < TD_SEMAPHORE_HOLDERS;
	     i++) {
		const td_semaphore_holder *h = &s->holders[i];
		if (!h->task)
			continue;
		f[n++] = (struct td_held_fact){
			.object = s,
			.kind = TD_WAIT_SEMAPHORE,
			.holder = h->task,
			.since = h->since,
			.permits = h->permits,
			.others = s->outside + s->overflow,
			.closed = s->closed,
		};
	}
	sync_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		w->fn(&f[i], w->arg);
}

void td_semaphore_held_for_each(void (*fn)(const struct td_held_fact *f,
					   void *arg),
				void *arg)
{
	struct held_walk w = {fn, arg};
	td_lockreg_for_each(&td_lockreg_semaphores, visit_semaphore, &w);
}
