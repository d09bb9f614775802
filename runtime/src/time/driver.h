/* driver.h - internal: a runtime's timers.
 *
 * The wheel and every registered entry's fields are protected by `lock`.
 * Wheel ticks are milliseconds since `start_ms` (td_now_ms clock).
 * Expired entries are unlinked and marked fired under the lock; their
 * wakers are moved out and woken after it is released.
 *
 * `parked_until` is the tick at which the thread parked in the driver will
 * wake up by itself: UINT64_MAX when it sleeps with no timer, 0 when no
 * thread sleeps in the driver.  Registering an earlier deadline calls the
 * `unpark` hook so that the parked thread re-computes its timeout.
 */
#ifndef TD_TIME_DRIVER_H
#define TD_TIME_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "taskdump/time.h"
#include "time/wheel.h"

/* What a timer driver needs from its owner (all optional). */
struct td_time_hooks {
	void (*unpark)(void *arg); /* an earlier timer: re-park the driver */
	void (*unwatched)(void *arg); /* a timer, and nobody sleeps in the
				       * driver: make sure somebody will */
	void (*hold)(void *arg);   /* a timer was registered */
	void (*release)(void *arg);/* a timer left (fired or cancelled);
				    * may free the driver */
};

struct td_time_driver {
	pthread_mutex_t lock;
	struct td_wheel wheel;
	uint64_t start_ms;
	_Atomic uint64_t parked_until;
	const struct td_time_hooks *hooks; /* NULL: none */
	void *hooks_arg;
	bool closed; /* shut down: no new registrations */
};

/* `hooks` (static, may be NULL) and `arg` are the owner's: a runtime
 * holds itself alive while timers are registered (td_runtime_ref/unref),
 * so that a future dropped after td_runtime_free still finds this lock. */
void td_time_driver_init(struct td_time_driver *d,
			 const struct td_time_hooks *hooks, void *arg);

/* Runtime shutdown: refuse new timers.  Timers still registered (of a
 * block_on future given back with -ESHUTDOWN) stay until their futures
 * are dropped: each holds a runtime reference, so this driver's memory
 * and lock outlive them. */
void td_time_driver_shutdown(struct td_time_driver *d);

/* Free what is left (the runtime's memory is going). */
void td_time_driver_destroy(struct td_time_driver *d);

/* Milliseconds from now until the next timer is due (0: due already), or
 * -1 when no timer is registered.  Records that the caller is about to
 * park until then. */
int td_time_driver_park_timeout(struct td_time_driver *d);

/* The parked thread woke up. */
void td_time_driver_unparked(struct td_time_driver *d);

/* Fire every timer that is due; returns how many. */
unsigned td_time_driver_process(struct td_time_driver *d);

/* Register e (embedded in a pending future) for `deadline_ms` with waker
 * w, or update its waker.  Returns 1 when the deadline has passed already
 * (e is then not registered and the caller completes), else 0. */
int td_time_driver_register(struct td_time_driver *d, td_timer_entry *e,
			    uint64_t deadline_ms, const td_waker *w);

/* Unregister e if it is registered (drop of a pending future). */
void td_time_entry_cancel(td_timer_entry *e);

/* True when the driver has fired e. */
static inline int td_time_entry_fired(const td_timer_entry *e)
{
	return __atomic_load_n(&e->fired, __ATOMIC_ACQUIRE);
}

#endif /* TD_TIME_DRIVER_H */
