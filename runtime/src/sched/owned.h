/* owned.h - internal: every live task of a runtime.
 *
 * Tasks are listed from spawn until they complete (then they remove
 * themselves).  Shutdown and dumps walk the list.  Each of TD_OWNED_SHARDS
 * shards (chosen by task id in runs of TD_OWNED_RUN ids, shifted by an
 * offset of the spawning thread's, so that spawns and completions on
 * different workers rarely meet on a lock) is an array of slots; a task
 * knows its slot (owned_index).  Removal turns the slot into a hole that
 * links to the previous free one, for the next spawn: it touches no other
 * task (moving the last entry into the hole would write to a task that is
 * probably cold in cache), and the free list costs no memory of its own.
 * Arrays rather than linked lists make a dump's snapshot a few memcpy()s
 * instead of a pointer chase through 100 000 tasks while workers wait, and
 * a removal touches no neighbour.  The list holds one reference to each
 * listed task.
 */
#ifndef TD_SCHED_OWNED_H
#define TD_SCHED_OWNED_H

#include <pthread.h>

#include "sync/flock.h"
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct td_task;

#define TD_OWNED_SHARDS 16u
/* Ids go to shards in runs of TD_OWNED_RUN: a burst of spawns on one
 * thread fills one array sequentially, and a burst of completions in spawn
 * order empties it the same way.  (Id by id round the shards, 16 big
 * arrays - each its own page-aligned mapping - were written in step at the
 * same page offset, all in one L1 cache set: a miss on nearly every bind
 * and removal.)  Threads spawning at the same time draw interleaved ids
 * from one counter; their offsets (owned.c) keep them on different
 * shards. */
#define TD_OWNED_RUN 64u

struct td_owned_shard {
	alignas(64) sync_flock lock; /* a futex lock: taken twice per task */
	/* [used]: a task pointer (tasks are 16-byte aligned), or a hole:
	 * (index of the next hole << 1) | 1, TD_OWNED_NONE for the last. */
	uintptr_t *slots;
	uint32_t used, cap;     /* slots in use (high water), allocated */
	uint32_t live;          /* listed tasks */
	uint32_t free_head;     /* first hole, or TD_OWNED_NONE */
};

struct td_owned {
	struct td_owned_shard shards[TD_OWNED_SHARDS];
	/* Set under every shard lock in turn; read under one of them, so
	 * an atomic (relaxed) to be a well-defined read. */
	_Atomic bool closed;
};

void td_owned_init(struct td_owned *o);
void td_owned_destroy(struct td_owned *o);

/* List t (taking over the reference it was allocated with for the list).
 * -ESHUTDOWN when the list is closed, -ENOMEM: t was not listed. */
int td_owned_bind(struct td_owned *o, struct td_task *t);

/* Unlist t if it is listed; true when it was (the list's reference is then
 * the caller's). */
bool td_owned_remove(struct td_owned *o, struct td_task *t);

/* Close the list (no more binds) and shut down every listed task, shard by
 * shard, without holding a lock while a task's future is dropped. */
void td_owned_close_and_shutdown(struct td_owned *o);

/* Number of listed tasks. */
size_t td_owned_count(struct td_owned *o);

/* The listed tasks, in no particular order: a malloc'd array (caller frees
 * it) and its length in *n; NULL with *n == 0 when empty or out of memory
 * (*oom set then).  With `take_refs` each task gets a reference (caller
 * unrefs each); without, the caller must make sure no task can complete
 * while it uses them (a dump with every worker stopped). */
struct td_task **td_owned_snapshot(struct td_owned *o, bool take_refs,
				   size_t *n, bool *oom);

#endif /* TD_SCHED_OWNED_H */
