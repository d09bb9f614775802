/* waitlist.h - internal: what the sync primitives share.
 *
 * - Intrusive FIFO waiter lists.  A waiter is a future that embeds a
 *   td_sync_link; the primitive keeps head and tail pointers (no sentinel,
 *   so a zero-initialised primitive has an empty list and may be copied
 *   before first use).  Every list operation happens under the owning
 *   primitive's lock.
 * - Wake batches: wakers are moved out of waiter nodes under the lock and
 *   woken after unlocking, so that a waker never runs (and never re-enters
 *   the primitive) while we hold our lock.
 * - Lock helpers that abort on the impossible (a pthread mutex error here
 *   means memory corruption; carrying on would hide it).
 */
#ifndef TD_SYNC_WAITLIST_H
#define TD_SYNC_WAITLIST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "taskdump/waker.h"

#include "taskdump/sync_list.h"

#define sync_container_of(ptr, type, member)                                 \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- locks ------------------------------------------------------------ */

static inline void sync_lock(pthread_mutex_t *l)
{
	if (pthread_mutex_lock(l) != 0)
		abort();
}

static inline void sync_unlock(pthread_mutex_t *l)
{
	if (pthread_mutex_unlock(l) != 0)
		abort();
}

/* ---- waiter lists ----------------------------------------------------- */

static inline bool sync_list_empty(const td_sync_list *l)
{
	return l->head == NULL;
}

static inline void sync_list_push_back(td_sync_list *l, td_sync_link *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

/* Unlink n, which must be on l. */
static inline void sync_list_remove(td_sync_list *l, td_sync_link *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

/* Unlink and return the oldest node, or NULL. */
static inline td_sync_link *sync_list_pop_front(td_sync_list *l)
{
	td_sync_link *n = l->head;

	if (n)
		sync_list_remove(l, n);
	return n;
}

/* ---- wakers ----------------------------------------------------------- */

/* Under the caller's lock: make `slot` wake the same target as `w`.  A
 * waker it displaces is moved to *old, for the caller to drop after
 * unlocking (dropping a task waker may free the task). */
static inline void sync_waker_update(td_waker *slot, const td_waker *w,
				     td_waker *old)
{
	if (td_waker_will_wake(slot, w))
		return;
	*old = *slot;
	*slot = td_waker_clone(w);
}

/* Move the waker out of `slot`, leaving it empty. */
static inline td_waker sync_waker_take(td_waker *slot)
{
	td_waker w = *slot;

	slot->vtable = NULL;
	slot->data = NULL;
	return w;
}

#define SYNC_WAKE_BATCH 16

/* Wakers collected under a lock, woken after it is released.  Callers that
 * may collect more than SYNC_WAKE_BATCH wakers check sync_wake_full(),
 * unlock, wake the batch and lock again. */
struct sync_wake_batch {
	int n;
	td_waker w[SYNC_WAKE_BATCH];
};

static inline void sync_wake_init(struct sync_wake_batch *b)
{
	b->n = 0;
}

static inline bool sync_wake_full(const struct sync_wake_batch *b)
{
	return b->n == SYNC_WAKE_BATCH;
}

/* Move the waker out of `slot` into the batch (empty slots are skipped). */
static inline void sync_wake_add(struct sync_wake_batch *b, td_waker *slot)
{
	if (slot->vtable)
		b->w[b->n++] = sync_waker_take(slot);
}

/* Wake (and release) every waker in the batch; the batch is empty after. */
static inline void sync_wake_all(struct sync_wake_batch *b)
{
	for (int i = 0; i < b->n; i++)
		td_waker_wake(&b->w[i]);
	b->n = 0;
}

#endif /* TD_SYNC_WAITLIST_H */
