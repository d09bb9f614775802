/* inject.h - internal: the global injection queue.
 *
 * A FIFO of Notified task references, shared by every thread: wake-ups from
 * outside a worker, spawns from outside, and local-queue overflow land here.
 * A lock protects the list (td_inject_lock/unlock for readers outside); `len` lets workers check for emptiness without
 * taking it.  Once closed (shutdown), pushes are refused and the caller drops
 * the reference instead.
 */
#ifndef TD_SCHED_INJECT_H
#define TD_SCHED_INJECT_H

#include "sync/flock.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct td_task;

struct td_inject {
	sync_flock lock; /* a futex lock (sync/flock.h) */
	struct td_task *head, *tail; /* linked through queue_next */
	_Atomic size_t len;          /* written under lock, read anywhere */
	bool closed;
};

void td_inject_init(struct td_inject *q);

/* For dumps, which walk the list: hold the queue's lock. */
static inline void td_inject_lock(struct td_inject *q)
{
	sync_flock_lock(&q->lock);
}

static inline void td_inject_unlock(struct td_inject *q)
{
	sync_flock_unlock(&q->lock);
}
void td_inject_destroy(struct td_inject *q);

/* Append one task; false when the queue is closed (reference not taken). */
bool td_inject_push(struct td_inject *q, struct td_task *t);

/* Append a linked batch first..last of n tasks; false when closed. */
bool td_inject_push_batch(struct td_inject *q, struct td_task *first,
			  struct td_task *last, size_t n);

/* Take the oldest task, or NULL. */
struct td_task *td_inject_pop(struct td_inject *q);

/* Take up to `max` tasks into out[]; returns how many. */
size_t td_inject_pop_n(struct td_inject *q, struct td_task **out, size_t max);

/* Close the queue and return everything in it as a list (queue_next). */
struct td_task *td_inject_close(struct td_inject *q);

static inline bool td_inject_is_empty(struct td_inject *q)
{
	return atomic_load_explicit(&q->len, memory_order_acquire) == 0;
}

#endif /* TD_SCHED_INJECT_H */
