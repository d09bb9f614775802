/* lockreg.h - internal: the registries of mutexes and semaphores, so that
 * a dump finds every lock a task holds, also those nobody waits for.
 *
 * Why a registry of the objects (and not a list of each task's locks):
 * a lock has one place for its holder already (td_mutex.holder, the
 * semaphore's holder slots), written under the object's own lock at
 * lock and unlock; a per-task list would need a second lock (or atomic
 * read-modify-writes) on every lock and unlock, since any task or thread
 * may unlock.  A registry costs nothing on those paths: an object is
 * linked once, at its first lock (so that static initialisers and copies
 * made before first use keep working), and unlinked by its destroy
 * function.  The price is a rule: a mutex or semaphore that was ever
 * locked must be destroyed before its memory is freed or reused (the
 * headers say so), or a dump would read freed memory.
 *
 * A registry is a few shards (by object address), each an intrusive
 * list under its own futex lock (sync/flock.h: a mutex's whole life
 * takes it twice), taken only to link, unlink and walk:
 * objects created and destroyed on many threads at once rarely meet on
 * one.  Lock order: a shard lock may be held while taking an object's
 * lock (the dump's walk reads a semaphore's holders under its lock);
 * never the other way round (linking happens before the object's lock is
 * taken).
 *
 * These registries are, with the runtime registry, the process's global
 * state: locks belong to no runtime (tasks of several runtimes and plain
 * threads may share one).
 */
#ifndef TD_SYNC_LOCKREG_H
#define TD_SYNC_LOCKREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/flock.h"
#include "taskdump/sync_list.h"
#include "taskdump/trace.h"

#define TD_LOCKREG_SHARDS 16

struct td_lockreg_shard {
	sync_flock lock;
	td_sync_list list;
};

struct td_lockreg {
	struct td_lockreg_shard shards[TD_LOCKREG_SHARDS];
};

extern struct td_lockreg td_lockreg_mutexes, td_lockreg_semaphores;

/* Link `link` (embedded in an object) into `r`, unless *registered says
 * it is already there; *registered is read and written with relaxed
 * atomics (callers test it without any lock first: one load and a
 * branch on their lock path). */
void td_lockreg_add(struct td_lockreg *r, td_sync_link *link,
		    bool *registered);

/* Unlink `link` if *registered; afterwards the object may be freed. */
void td_lockreg_remove(struct td_lockreg *r, td_sync_link *link,
		       bool *registered);

/* Call fn(link, arg) for each object of `r`, under the shards' locks
 * (no object can be linked or destroyed meanwhile), in no particular
 * order.  fn must not take a shard lock. */
void td_lockreg_for_each(struct td_lockreg *r,
			 void (*fn)(td_sync_link *link, void *arg), void *arg);

/* One lock held by a task, as a dump's walk saw it. */
struct td_held_fact {
	const void *object;
	td_wait_kind kind;   /* TD_WAIT_MUTEX or TD_WAIT_SEMAPHORE */
	uint64_t holder;     /* the task's id, never 0 */
	uint32_t since;      /* task clock (td_task_clock32) when it took
			      * the lock (a semaphore: its first permit of
			      * those it holds); 0: unknown */
	size_t permits;      /* TD_WAIT_SEMAPHORE: the holder's permits */
	size_t others;       /* TD_WAIT_SEMAPHORE: permits taken and not
			      * given back that are attributed to no task
			      * (taken outside tasks, or past the slots) */
	bool closed;         /* TD_WAIT_SEMAPHORE: closed */
};

/* Call fn for each mutex held by a task (mutex.c), and for each task
 * holding permits of a semaphore whose permits are all accounted for
 * (semaphore.c, see there).  For dumps, during the pause. */
void td_mutex_held_for_each(void (*fn)(const struct td_held_fact *f,
				       void *arg),
			    void *arg);
void td_semaphore_held_for_each(void (*fn)(const struct td_held_fact *f,
					   void *arg),
				void *arg);

#endif /* TD_SYNC_LOCKREG_H */
