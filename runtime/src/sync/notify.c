/* notify.c - td_notify / td_notified (taskdump/notify.h).
 *
 * Invariants, all under n->lock:
 * - A registered future is WAITING and sits on f->list: normally
 *   n->waiters; while a td_notify_waiters() call is waking them, that
 *   call's private list.  Either way a drop can unlink it.
 * - Notifying a waiter unlinks it, records how (`how`), moves its waker
 *   out and stores NOTIFIED with release order as the last access; then
 *   only the owner touches it (poll: NOTIFIED -> DONE; drop: forward a
 *   td_notify_one()).
 * - `permit` is set only while n->waiters is empty (td_notify_one() hands
 *   its notification to a waiter when there is one).
 * - `generation` counts td_notify_waiters() calls.  A future remembers it
 *   at init; a future that registers after the count moved on was owed
 *   that call's wake and completes at once, so every future on n->waiters
 *   has generation == n->generation, and td_notify_waiters() can take the
 *   whole list in O(1).
 *
 * `generation` is read without the lock in td_notified_init (any value it
 * reads is consistent: the init happens before or after the call), so it
 * is accessed with __atomic operations.
 */
#include <string.h>

#include "taskdump/notify.h"
#include "sync/waitlist.h"
#include "trace/leaf.h"

enum {
	NF_INIT = 0,  /* not registered yet */
	NF_WAITING,   /* on f->list */
	NF_NOTIFIED,  /* notified (see `how`), not yet polled to READY */
	NF_DONE,      /* READY returned, or dropped */
};

enum {
	HOW_NONE = 0,
	HOW_ONE,      /* a td_notify_one(), or the stored permit */
	HOW_ALL,      /* a td_notify_waiters() */
};

static inline int load_state(const td_notified *f)
{
	return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
}

static inline void store_state(td_notified *f, int st)
{
	__atomic_store_n(&f->state, st, __ATOMIC_RELEASE);
}

void td_notify_init(td_notify *n)
{
	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
}

void td_notify_destroy(td_notify *n)
{
	pthread_mutex_destroy(&n->lock);
}

/* Under n->lock: w (already unlinked) is notified `how`; returns its
 * waker for the caller to wake after unlocking. */
static td_waker notify_waiter(td_notified *w, int how)
{
	td_waker wk = sync_waker_take(&w->waker);

	w->how = how;
	w->list = NULL;
	store_state(w, NF_NOTIFIED); /* last access: the owner may free w */
	return wk;
}

/* Under n->lock: the td_notify_one() logic. */
static td_waker notify_one_locked(td_notify *n)
{
	td_sync_link *l = sync_list_pop_front(&n->waiters);

	if (!l) {
		n->permit = true;
		return (td_waker){NULL, NULL};
	}
	return notify_waiter(sync_container_of(l, td_notified, link), HOW_ONE);
}

void td_notify_one(td_notify *n)
{
	td_waker wk;

	sync_lock(&n->lock);
	wk = notify_one_locked(n);
	sync_unlock(&n->lock);
	td_waker_wake(&wk);
}

void td_notify_waiters(td_notify *n)
{
	struct sync_wake_batch b;
	td_sync_list mine;
	td_sync_link *l;

	sync_wake_init(&b);
	sync_lock(&n->lock);
	__atomic_store_n(&n->generation, n->generation + 1, __ATOMIC_RELAXED);
	/* Everyone registered now is owed this wake; take them all.  Futures
	 * registering from here on are not (see the invariants). */
	mine = n->waiters;
	n->waiters.head = n->waiters.tail = NULL;
	for (l = mine.head; l; l = l->next)
		sync_container_of(l, td_notified, link)->list = &mine;
	while ((l = sync_list_pop_front(&mine)) != NULL) {
		td_waker wk = notify_waiter(
			sync_container_of(l, td_notified, link), HOW_ALL);
		sync_wake_add(&b, &wk);
		if (sync_wake_full(&b) && mine.head) {
			/* Wake with the lock dropped; drops of the futures
			 * still on `mine` unlink them under the lock. */
			sync_unlock(&n->lock);
			sync_wake_all(&b);
			sync_lock(&n->lock);
		}
	}
	sync_unlock(&n->lock);
	sync_wake_all(&b);
}

/* Under n->lock, for a future in NF_INIT: take a notification that is
 * already due to it, or join the waiter list (with `waker`, if any). */
static void register_locked(td_notified *f, const td_waker *waker)
{
	td_notify *n = f->notify;

	if (n->generation != f->generation) {
		f->how = HOW_ALL;
		store_state(f, NF_NOTIFIED);
	} else if (n->permit) {
		n->permit = false;
		f->how = HOW_ONE;
		store_state(f, NF_NOTIFIED);
	} else {
		if (waker)
			f->waker = td_waker_clone(waker);
		f->list = &n->waiters;
		sync_list_push_back(&n->waiters, &f->link);
		store_state(f, NF_WAITING);
	}
}

/* Notified: complete, budget permitting (a NOTIFIED future that is then
 * dropped forwards a td_notify_one(), so saying "not yet" loses nothing). */
static td_poll notified_ready(td_notified *f, td_context *cx)
{
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	store_state(f, NF_DONE);
	return TD_READY;
}

static td_poll td_notified_poll(td_future *fut, td_context *cx)
{
	td_notified *f = (td_notified *)fut;
	td_notify *n = f->notify;
	td_waker old = {NULL, NULL};

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_NOTIFY, .object = n);

	int st = load_state(f);
	if (st == NF_NOTIFIED)
		return notified_ready(f, cx);
	if (st == NF_DONE)
		return TD_READY;

	sync_lock(&n->lock);
	st = load_state(f);
	if (st == NF_INIT) {
		register_locked(f, cx->waker);
		st = load_state(f);
	} else if (st == NF_WAITING) {
		sync_waker_update(&f->waker, cx->waker, &old);
	}
	sync_unlock(&n->lock);
	td_waker_drop(&old);
	if (st == NF_WAITING)
		return TD_PENDING;
	return notified_ready(f, cx);
}

static void notified_drop(td_future *fut)
{
	td_notified *f = (td_notified *)fut;
	td_notify *n = f->notify;
	td_waker mine = {NULL, NULL}, next = {NULL, NULL};
	int st = load_state(f);

	if (st == NF_INIT || st == NF_DONE)
		return;
	sync_lock(&n->lock);
	st = load_state(f);
	if (st == NF_WAITING) {
		sync_list_remove(f->list, &f->link);
		f->list = NULL;
		mine = sync_waker_take(&f->waker);
	} else if (f->how == HOW_ONE) {
		/* A td_notify_one() chose us and nobody consumed it. */
		next = notify_one_locked(n);
	}
	store_state(f, NF_DONE);
	sync_unlock(&n->lock);
	td_waker_drop(&mine);
	td_waker_wake(&next);
}

static const td_future_vtable notified_vtable = {
	.poll = td_notified_poll,
	.drop = notified_drop,
	.type_name = "td_notified",
};

void td_notified_init(td_notified *f, td_notify *n)
{
	memset(f, 0, sizeof(*f));
	f->base.vtable = &notified_vtable;
	f->notify = n;
	f->generation = __atomic_load_n(&n->generation, __ATOMIC_RELAXED);
	f->state = NF_INIT;
}

bool td_notified_enable(td_notified *f)
{
	td_notify *n = f->notify;
	int st = load_state(f);

	if (st == NF_INIT) {
		sync_lock(&n->lock);
		if (load_state(f) == NF_INIT)
			register_locked(f, NULL);
		st = load_state(f);
		sync_unlock(&n->lock);
	}
	return st == NF_NOTIFIED || st == NF_DONE;
}
