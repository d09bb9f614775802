/* shared.c - the per-child waker block of join_all and select.
 *
 * Why a lock around the parent waker: a child waker may be woken on any
 * thread while the owner's poll replaces the parent waker (the task was
 * polled with a different waker) or while the owner closes the block.  A
 * two-word td_waker cannot be swapped atomically, and a wake must never use
 * a parent waker that is being dropped.  The lock is held only to copy or
 * replace the waker, never while waking or polling: a wake clones the
 * parent under the lock and wakes the clone after unlocking, so no lock of
 * the waker's runtime is ever taken under ours.
 *
 * Why a wake can never be lost: the owner's poll stores the parent waker
 * (under the lock) before it consumes any woken mark; a child wake sets the
 * mark before it reads the parent waker (under the lock).  The lock orders
 * the two critical sections: if the wake's comes second it sees the new
 * waker; if it comes first, its mark was set before the poll's scan, which
 * then polls the child.
 */
#include <stdlib.h>

#include "combinators/shared.h"

static td_waker child_clone(const void *data);
static void child_wake(void *data);
static void child_wake_by_ref(const void *data);
static void child_drop(void *data);

static const td_waker_vtable child_vtable = {
	.clone = child_clone,
	.wake = child_wake,
	.wake_by_ref = child_wake_by_ref,
	.drop = child_drop,
};

struct td_comb_shared *td_comb_shared_new(size_t n)
{
	struct td_comb_shared *sh;

	if (n > (SIZE_MAX - sizeof(*sh)) / sizeof(sh->slots[0]))
		return NULL;
	sh = malloc(sizeof(*sh) + n * sizeof(sh->slots[0]));
	if (!sh)
		return NULL;
	if (pthread_mutex_init(&sh->lock, NULL) != 0) {
		free(sh);
		return NULL;
	}
	atomic_init(&sh->refs, 1); /* the owner's */
	sh->parent = (td_waker){NULL, NULL};
	sh->closed = false;
	for (size_t i = 0; i < n; i++) {
		sh->slots[i].shared = sh;
		atomic_init(&sh->slots[i].woken, true);
		sh->slots[i].done = false;
		sh->slots[i].retry = false;
	}
	return sh;
}

/* Drop one reference; the last one frees the block.  acq_rel: every
 * earlier use of the block by other reference holders (release) happens
 * before the free (acquire).  An RMW rather than a fence, so TSan sees the
 * synchronisation too. */
static void shared_release(struct td_comb_shared *sh)
{
	if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}

void td_comb_shared_set_parent(struct td_comb_shared *sh, const td_waker *w)
{
	td_waker old = {NULL, NULL};

	pthread_mutex_lock(&sh->lock);
	if (!td_waker_will_wake(&sh->parent, w)) {
		old = sh->parent;
		sh->parent = td_waker_clone(w);
	}
	pthread_mutex_unlock(&sh->lock);
	/* Dropping a task waker may release the task: outside our lock. */
	td_waker_drop(&old);
}

void td_comb_shared_detach(struct td_comb_shared *sh)
{
	td_waker old;

	pthread_mutex_lock(&sh->lock);
	old = sh->parent;
	sh->parent = (td_waker){NULL, NULL};
	sh->closed = true;
	pthread_mutex_unlock(&sh->lock);
	td_waker_drop(&old);
}

void td_comb_shared_put(struct td_comb_shared *sh)
{
	shared_release(sh);
}

td_waker td_comb_child_waker(struct td_comb_shared *sh, size_t i)
{
	return (td_waker){&child_vtable, &sh->slots[i]};
}

/* ---- the child waker's vtable ---------------------------------------- */

static td_waker child_clone(const void *data)
{
	struct td_comb_slot *slot = (struct td_comb_slot *)data;

	/* Relaxed: the cloner already holds a reference, which keeps the
	 * block alive; the new one only has to be counted. */
	atomic_fetch_add_explicit(&slot->shared->refs, 1, memory_order_relaxed);
	return (td_waker){&child_vtable, slot};
}

static void child_wake_by_ref(const void *data)
{
	struct td_comb_slot *slot = (struct td_comb_slot *)data;
	struct td_comb_shared *sh = slot->shared;
	td_waker parent = {NULL, NULL};

	/* Set the mark first (see the file comment).  If it was set already,
	 * no parent wake is needed: whoever set it wakes the parent after
	 * setting it (or it is an initial mark, which the first poll's scan
	 * is about to consume), and the real poll that consumes the mark
	 * comes after our exchange in the mark's modification order, so it
	 * acquires what we released and its child poll sees our event. */
	if (atomic_exchange_explicit(&slot->woken, true, memory_order_acq_rel))
		return;
	pthread_mutex_lock(&sh->lock);
	if (!sh->closed)
		parent = td_waker_clone(&sh->parent);
	pthread_mutex_unlock(&sh->lock);
	td_waker_wake(&parent);
}

static void child_wake(void *data)
{
	child_wake_by_ref(data);
	child_drop(data);
}

static void child_drop(void *data)
{
	struct td_comb_slot *slot = data;

	shared_release(slot->shared);
}
