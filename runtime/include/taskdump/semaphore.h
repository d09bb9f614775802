/* taskdump/semaphore.h - an async, FIFO-fair counting semaphore.
 *
 * A td_semaphore holds a number of permits.  A td_semaphore_acquire future
 * takes n of them, waiting until they are available; READY with error 0
 * means the caller owns n permits, which it gives back with
 * td_semaphore_release(sem, n) (a permit may also be "forgotten" by never
 * releasing it, or created by releasing more than was acquired).
 *
 * Fairness: waiters are served strictly in arrival order, all or nothing.
 * A large request at the head of the queue blocks smaller requests behind
 * it even when enough permits for those are available, so big requests
 * cannot starve; td_semaphore_try_acquire() also fails while anyone waits.
 *
 * Closing: td_semaphore_close() completes every waiting acquire with
 * error -EPIPE and makes every later acquire (and try_acquire) fail with
 * -EPIPE.  Permits already granted stay with their owners; releasing them
 * after the close is allowed and harmless.
 *
 * Cancellation: dropping a waiting acquire leaves the queue (which may let
 * the waiters behind it through); dropping one that was already granted
 * its permits, but not yet polled to READY, releases them.
 *
 * Holders, for dumps: a semaphore remembers which tasks hold its permits
 * in TD_SEMAPHORE_HOLDERS slots of its own (no allocation), so that dumps
 * list "semaphore 0x... 2 permits held 120 ms, 1 waiting" on each holder
 * and can draw wait-for edges from its waiters to them.  Permits are
 * counted as held by the task that acquired them until that same task
 * releases them; permits taken outside a task, or by more tasks than
 * there are slots, are held by "others".  A release by a task that holds
 * fewer permits than it gives back (it returns another's permits, or adds
 * new ones) makes the attribution unknown: dumps then list no holder of
 * that semaphore until all its permits are back.  README.md, "Held locks",
 * says it precisely.
 *
 * Like a mutex, a semaphore is linked into a registry of the process at
 * its first acquire: one that was ever acquired must be destroyed with
 * td_semaphore_destroy() before its memory is freed or reused, and may be
 * copied (or initialised again) only before its first acquire or after
 * td_semaphore_destroy().
 *
 * Embeddable; safe to use from any number of threads.
 */
#ifndef TASKDUMP_SEMAPHORE_H
#define TASKDUMP_SEMAPHORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"
#include "taskdump/sync_list.h"
#include "taskdump/waker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How many holder tasks a semaphore remembers (see above). */
#define TD_SEMAPHORE_HOLDERS 4

/* A task holding permits of a semaphore.  Private. */
typedef struct td_semaphore_holder {
	uint64_t task;         /* 0: a free slot */
	size_t permits;
	uint32_t since;        /* task clock when it took the first of them */
} td_semaphore_holder;

/* A counting semaphore.  All fields are private. */
typedef struct td_semaphore {
	pthread_mutex_t lock;  /* protects the fields below */
	size_t permits;        /* available (not granted to anyone) */
	bool closed;
	td_sync_list waiters;  /* td_semaphore_acquire futures, oldest first */
	/* Who holds permits, for dumps (semaphore.c). */
	size_t total;          /* available + taken and not given back */
	size_t outside;        /* taken outside tasks */
	size_t overflow;       /* taken by tasks that found no free slot */
	td_semaphore_holder holders[TD_SEMAPHORE_HOLDERS];
	bool registered;       /* linked into the registry (`reg`) */
	td_sync_link reg;      /* the registry of semaphores, for dumps */
} td_semaphore;

/* Static initialiser with `n` permits, an alternative to
 * td_semaphore_init(). */
#define TD_SEMAPHORE_INITIALIZER(n)                                          \
	{PTHREAD_MUTEX_INITIALIZER, (n), false, {0, 0}, (n), 0, 0,           \
	 {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, false, {0, 0}}

/* Initialise a semaphore holding `permits` permits. */
TD_API void td_semaphore_init(td_semaphore *s, size_t permits);

/* Release the semaphore's resources and unlink it from the registry of
 * semaphores (see above): required before its memory is freed or reused
 * once it was acquired.  No acquire may be pending on it. */
TD_API void td_semaphore_destroy(td_semaphore *s);

/* A future that acquires permits.  After TD_READY, `error` is 0 (the
 * caller owns `wanted` permits) or -EPIPE (the semaphore is closed; no
 * permits are owned).  Other fields are private. */
typedef struct td_semaphore_acquire {
	td_future base;
	td_semaphore *sem;
	td_sync_link link;     /* in sem->waiters while waiting */
	td_waker waker;        /* protected by sem->lock */
	size_t wanted;
	uint64_t task_id;      /* the waiting task, recorded when queued */
	int state;             /* private; atomic access */
	int error;             /* result, see above */
} td_semaphore_acquire;

/* Prepare `f` to acquire `n` permits of `s` (n == 0 completes at once,
 * with -EPIPE if the semaphore is closed).  Nothing happens until polled. */
TD_API void td_semaphore_acquire_init(td_semaphore_acquire *f,
				      td_semaphore *s, size_t n);

/* Take `n` permits without waiting.  Returns 0 on success, -EAGAIN when
 * fewer than n are available or other acquires are queued (no barging),
 * -EPIPE when the semaphore is closed. */
TD_API int td_semaphore_try_acquire(td_semaphore *s, size_t n);

/* Add `n` permits (give back acquired ones, or create new ones) and grant
 * them to queued acquires, oldest first.  Dumps count them as given back
 * by the calling task (0: outside tasks) first; see above. */
TD_API void td_semaphore_release(td_semaphore *s, size_t n);

/* The number of permits available right now (a snapshot). */
TD_API size_t td_semaphore_available(const td_semaphore *s);

/* Close the semaphore: see the header comment.  Idempotent. */
TD_API void td_semaphore_close(td_semaphore *s);

/* True once td_semaphore_close() was called. */
TD_API bool td_semaphore_is_closed(const td_semaphore *s);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_SEMAPHORE_H */
