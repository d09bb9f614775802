/* park.h - internal: putting one thread to sleep until it is needed.
 *
 * A parker belongs to one thread (the only one that parks on it); any
 * thread may unpark it.  States:
 *
 *   EMPTY          running, no pending unpark
 *   PARKED_FUTEX   asleep on the futex word
 *   PARKED_DRIVER  asleep in epoll_wait (it holds the runtime's driver)
 *   NOTIFIED       an unpark arrived; the next park returns at once
 *
 * An unpark is never lost: it leaves NOTIFIED behind, which the next park
 * consumes.
 */
#ifndef TD_SCHED_PARK_H
#define TD_SCHED_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	TD_PARK_EMPTY = 0,
	TD_PARK_FUTEX = 1,
	TD_PARK_DRIVER = 2,
	TD_PARK_NOTIFIED = 3,
};

struct td_runtime;

struct td_parker {
	_Atomic uint32_t state;
};

static inline void td_parker_init(struct td_parker *p)
{
	atomic_init(&p->state, TD_PARK_EMPTY);
}

/* Sleep until unparked.  When `rt` is given and its driver is free, sleep
 * in the driver instead (epoll_wait until the next timer), then fire due
 * timers and I/O wake-ups before returning. */
void td_parker_park(struct td_parker *p, struct td_runtime *rt);

/* Wake the parker's thread (or make its next park return at once). */
void td_parker_unpark(struct td_parker *p, struct td_runtime *rt);

/* The driver is held by at most one thread: the one sleeping in (or
 * polling) epoll.  Take it if free; release it - waking a driver waiter
 * when there is anything to watch (see td_driver_ensure_watched). */
bool td_driver_try_lock(struct td_runtime *rt);
void td_driver_unlock(struct td_runtime *rt);

/* Poll the runtime's driver without sleeping, if no one else holds it:
 * fire due timers and I/O wake-ups.  Returns false when it was busy. */
bool td_driver_poll_now(struct td_runtime *rt);

/* A timer or a descriptor was registered: if nobody holds the driver and
 * a thread sleeps on its futex waiting for it, wake that thread so that
 * it takes the driver (the thread that would otherwise come back to the
 * driver may be stuck in a long poll).
 *
 * The rule that keeps timers and I/O watched while some worker is stuck:
 * a thread that parks without the driver (someone else held it) counts
 * itself in `driver_waiters`; whoever releases the driver, or registers
 * something while nobody holds it, wakes one such waiter. */
void td_driver_ensure_watched(struct td_runtime *rt);

/* Futex helpers. */
void td_futex_wait(_Atomic uint32_t *word, uint32_t expect);
void td_futex_wake(_Atomic uint32_t *word, int n);

#endif /* TD_SCHED_PARK_H */
