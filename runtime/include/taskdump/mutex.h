/* taskdump/mutex.h - an async, FIFO-fair mutex.
 *
 * A td_mutex is locked by awaiting a td_mutex_lock future; READY means the
 * caller holds the lock, which it gives back with td_mutex_unlock().  The
 * lock is fair: td_mutex_unlock() hands it straight to the oldest waiter
 * (nobody can barge in between) and wakes that waiter, whose next poll
 * returns READY.  The mutex remembers the id of the task holding it
 * (td_task_current_id() of the acquirer; 0 for a plain thread), which task
 * dumps show as "mutex 0x... held by task N".
 *
 *     td_mutex_lock_init(&self->lk, &shared->mutex);
 *     TD_AWAIT(&self->as, &self->lk, cx);
 *     shared->counter++;                 // we hold the lock
 *     td_mutex_unlock(&shared->mutex);
 *
 * Cancellation: dropping a lock future that is still waiting removes it
 * from the queue; dropping one that was already handed the lock (but not
 * yet polled to READY) passes the lock on to the next waiter, or unlocks.
 * Dropping a READY lock future does nothing: the lock stays held.
 *
 * A td_mutex is embeddable (no allocation).  It is not recursive, and it
 * is not tied to the locking task: any task or thread may unlock it.
 * Safe to use from any number of threads.
 *
 * Dumps list every mutex a task holds, also those nobody waits for: at
 * its first lock a mutex is linked into the process's registry of
 * mutexes (once; nothing is allocated), which dumps walk.  Hence one rule:
 * a mutex that was ever locked must be destroyed with td_mutex_destroy()
 * before its memory is freed or reused (on the stack: before its scope
 * ends), or a dump reads freed memory.  A mutex may be copied (or
 * zero-filled, or initialised again) only before its first lock or after
 * td_mutex_destroy().
 */
#ifndef TASKDUMP_MUTEX_H
#define TASKDUMP_MUTEX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"
#include "taskdump/sync_list.h"
#include "taskdump/waker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An async mutex.  All fields are private. */
typedef struct td_mutex {
	/* What a dump's walk of the registry reads, side by side (one
	 * cache line): the link, and whether and by whom it is held. */
	td_sync_link reg;      /* the registry of mutexes, for dumps */
	bool locked;           /* held; stays true across a hand-off */
	bool registered;       /* linked into the registry (`reg`) */
	uint32_t held_since;   /* when `holder` took it (wrapping coarse
				* monotonic ms), for dumps; 0 while unlocked */
	uint64_t holder;       /* task id of the holder (0: none/no task) */
	pthread_mutex_t lock;  /* protects the fields (but `reg`) */
	td_sync_list waiters;  /* td_mutex_lock futures, oldest first */
} td_mutex;

/* Static initialiser, an alternative to td_mutex_init(). */
#define TD_MUTEX_INITIALIZER                                                 \
	{{0, 0}, false, false, 0, 0, PTHREAD_MUTEX_INITIALIZER, {0, 0}}

/* Initialise an unlocked mutex. */
TD_API void td_mutex_init(td_mutex *m);

/* Release the mutex's resources and unlink it from the registry of
 * mutexes (see above): required before its memory is freed or reused
 * once it was locked.  It must be unlocked, with no lock future pending
 * on it; it may be initialised and used again afterwards. */
TD_API void td_mutex_destroy(td_mutex *m);

/* A future that acquires a mutex.  After TD_READY the caller holds the
 * lock.  Fields are private. */
typedef struct td_mutex_lock {
	td_future base;
	td_mutex *mutex;
	td_sync_link link;     /* in mutex->waiters while waiting */
	td_waker waker;        /* protected by mutex->lock */
	uint64_t task_id;      /* the waiting task, recorded when queued */
	int state;             /* private; atomic access */
} td_mutex_lock;

/* Prepare `f` to lock `m`.  Nothing happens until it is polled. */
TD_API void td_mutex_lock_init(td_mutex_lock *f, td_mutex *m);

/* Take the lock if it is free and nobody is queued for it (no barging
 * past waiters).  Returns true when the caller now holds it. */
TD_API bool td_mutex_try_lock(td_mutex *m);

/* Release the lock (the caller must hold it): hand it to the oldest
 * waiter and wake that waiter, or leave the mutex unlocked. */
TD_API void td_mutex_unlock(td_mutex *m);

/* The id of the task holding the lock: for a lock handed to a waiter, the
 * task that queued the lock future.  0 when unlocked or held outside a
 * task.  A snapshot: it may change as soon as it is returned. */
TD_API uint64_t td_mutex_holder_id(const td_mutex *m);

/* True while the mutex is held (a snapshot). */
TD_API bool td_mutex_is_locked(const td_mutex *m);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_MUTEX_H */
