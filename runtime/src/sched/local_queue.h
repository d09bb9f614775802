/* local_queue.h - internal: a worker's bounded run queue.
 *
 * A ring of TD_LOCAL_QUEUE_CAP task pointers.  Only the owning worker
 * pushes (at the tail) and pops (at the head); other workers steal half of
 * it at a time.  The head word packs two indices:
 *
 *     head = (steal << 32) | real
 *
 * `real` is the next entry the owner would pop; `steal` lags behind it
 * while a stealer is copying entries [steal, real) out, and equals it
 * otherwise.  The owner may only reuse slots before `steal`, which is why a
 * push checks `tail - steal` against the capacity.  Indices are u32 and
 * wrap; the ring index is `i & TD_LOCAL_QUEUE_MASK`.
 *
 * Slots are atomic pointers accessed relaxed; all ordering comes from the
 * release/acquire pairs on `tail` (push -> steal) and `head` (claims).
 */
#ifndef TD_SCHED_LOCAL_QUEUE_H
#define TD_SCHED_LOCAL_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/inject.h"

/* Larger than Tokio's 256: a worker with more runnable tasks than this
 * keeps moving half of them to the injection queue, from where the other
 * workers take them - tasks then migrate all the time, and tasks that sit
 * next to each other in memory end up polled on different cores (false
 * sharing; yield_many with 1000 tasks on 2 workers ran at half speed).
 * 8 KiB a worker. */
#define TD_LOCAL_QUEUE_CAP 1024u
#define TD_LOCAL_QUEUE_MASK (TD_LOCAL_QUEUE_CAP - 1)

struct td_task;

struct td_local_queue {
	_Atomic uint64_t head;
	_Atomic uint32_t tail;
	struct td_task *_Atomic slots[TD_LOCAL_QUEUE_CAP];
};

void td_local_queue_init(struct td_local_queue *q);

/* Owner: append t; when full, move half of the queue plus t to `inject`
 * (or just t, while a steal is in progress).  Returns false only when the
 * overflow could not be pushed because `inject` is closed (shutdown): the
 * caller then still owns t, and the half that was taken off the queue has
 * had its Notified references dropped (those tasks can never run). */
bool td_local_queue_push(struct td_local_queue *q, struct td_task *t,
			 struct td_inject *inject);

/* Owner: take the oldest task, or NULL. */
struct td_task *td_local_queue_pop(struct td_local_queue *q);

/* Another worker (owner of `dst`, which must be empty): move half of
 * `src` into `dst` and return one of the stolen tasks to run now, or NULL
 * when there was nothing to steal (or another steal was in progress). */
struct td_task *td_local_queue_steal_into(struct td_local_queue *src,
					  struct td_local_queue *dst);

/* Entries currently queued (approximate when read by a non-owner). */
uint32_t td_local_queue_len(struct td_local_queue *q);

/* Read-only snapshot for dumps, valid only while the owner and all
 * stealers are paused: calls fn for every queued task. */
void td_local_queue_for_each(struct td_local_queue *q,
			     void (*fn)(struct td_task *t, void *arg),
			     void *arg);

#endif /* TD_SCHED_LOCAL_QUEUE_H */
