/* owned.h - internal: every live task of a runtime.
 *
 * Tasks are listed from spawn until they complete (then they remove
 * themselves).  Shutdown and dumps walk the list.  Sharded by task id so
 * that spawns and completions on different workers rarely meet on a lock.
 * The list holds one reference to each listed task.
 */
#ifndef TD_SCHED_OWNED_H
#define TD_SCHED_OWNED_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>

struct td_task;

#define TD_OWNED_SHARDS 16u

struct td_owned_shard {
	alignas(64) pthread_mutex_t lock;
	struct td_task *head; /* doubly linked via owned_prev/owned_next */
	size_t count;
};

struct td_owned {
	struct td_owned_shard shards[TD_OWNED_SHARDS];
	bool closed; /* set under every shard lock */
};

void td_owned_init(struct td_owned *o);
void td_owned_destroy(struct td_owned *o);

/* List t (taking over the reference it was allocated with for the list).
 * False when the list is closed (shutdown): t was not listed. */
bool td_owned_bind(struct td_owned *o, struct td_task *t);

/* Unlist t if it is listed; true when it was (the list's reference is then
 * the caller's). */
bool td_owned_remove(struct td_owned *o, struct td_task *t);

/* Close the list (no more binds) and shut down every listed task, shard by
 * shard, without holding a lock while a task's future is dropped. */
void td_owned_close_and_shutdown(struct td_owned *o);

/* Number of listed tasks. */
size_t td_owned_count(struct td_owned *o);

/* Take a reference to every listed task, in no particular order; returns
 * a malloc'd array (caller unrefs each and frees it) and its length in *n.
 * NULL with *n == 0 when empty or out of memory (*oom set then).  Cheap
 * enough to run while a dump pauses the workers: no sorting, no copying
 * beyond the pointers. */
struct td_task **td_owned_snapshot(struct td_owned *o, size_t *n, bool *oom);

#endif /* TD_SCHED_OWNED_H */
