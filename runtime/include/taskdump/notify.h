/* taskdump/notify.h - wake one or all waiting tasks (like Tokio's Notify).
 *
 * A td_notify has no data, only notifications.  Waiting is done by
 * awaiting a td_notified future.
 *
 * - td_notify_one() wakes the oldest registered waiter.  When nobody is
 *   registered it stores a single permit (several calls store just one),
 *   which the next td_notified to register consumes, completing at once.
 * - td_notify_waiters() wakes every waiter that exists at the time of the
 *   call and stores no permit.
 *
 * When a td_notified counts as waiting:
 * - for td_notify_waiters(): from td_notified_init() on.  A future created
 *   before a td_notify_waiters() call completes on its first poll even if
 *   that poll comes after the call.  A future created after the call does
 *   not see it.
 * - for td_notify_one(): from its first poll, or from td_notified_enable()
 *   if that comes first.  Call td_notified_enable() to be counted before
 *   awaiting, e.g. before checking the condition the notification is
 *   about (so a notify_one between the check and the await is not lost).
 *
 * Cancellation: dropping a future that a td_notify_one() picked but that
 * was never polled to READY passes that notification on (to the next
 * waiter, or as the stored permit), so it is never lost.  Dropping a
 * future woken by td_notify_waiters() passes nothing on.
 *
 * Embeddable; safe to use from any number of threads.
 */
#ifndef TASKDUMP_NOTIFY_H
#define TASKDUMP_NOTIFY_H

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

/* A notification point.  All fields are private. */
typedef struct td_notify {
	pthread_mutex_t lock;  /* protects the fields below */
	bool permit;           /* a stored td_notify_one() */
	uint64_t generation;   /* number of td_notify_waiters() calls */
	td_sync_list waiters;  /* td_notified futures, oldest first */
} td_notify;

/* Static initialiser, an alternative to td_notify_init(). */
#define TD_NOTIFY_INITIALIZER {PTHREAD_MUTEX_INITIALIZER, false, 0, {0, 0}}

/* Initialise a notify with no permit stored. */
TD_API void td_notify_init(td_notify *n);

/* Release the notify's resources; no td_notified may be registered. */
TD_API void td_notify_destroy(td_notify *n);

/* Wake the oldest registered waiter, or store the permit. */
TD_API void td_notify_one(td_notify *n);

/* Wake every waiter counted (see above); stores no permit. */
TD_API void td_notify_waiters(td_notify *n);

/* A future that completes when notified.  Fields are private. */
typedef struct td_notified {
	td_future base;
	td_notify *notify;
	td_sync_link link;     /* on `list` while registered */
	td_sync_list *list;    /* notify->waiters, or a td_notify_waiters()
				* call's private list while it wakes them */
	td_waker waker;        /* protected by notify->lock */
	uint64_t generation;   /* notify->generation at init */
	int state;             /* private; atomic access */
	int how;               /* private: which call notified it */
} td_notified;

/* Prepare `f` to wait on `n`.  From now on `f` counts for
 * td_notify_waiters() (see above).  Drop it if it is not awaited. */
TD_API void td_notified_init(td_notified *f, td_notify *n);

/* Register `f` for td_notify_one() before its first poll, consuming the
 * stored permit if there is one.  Returns true when `f` is already
 * notified (its next poll returns READY).  Harmless after the first poll. */
TD_API bool td_notified_enable(td_notified *f);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_NOTIFY_H */
