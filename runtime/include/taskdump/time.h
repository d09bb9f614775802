/* taskdump/time.h - the clock, sleeps and timeouts.
 *
 * Timers have millisecond resolution and never fire early: a sleep of N ms
 * completes no sooner than N ms after td_sleep_init.  They are driven by
 * the runtime of the task that first polls them (a hierarchical timing
 * wheel behind the runtime's epoll driver); polling a sleep outside any
 * runtime aborts with a message naming the problem.
 */
#ifndef TASKDUMP_TIME_H
#define TASKDUMP_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Milliseconds on the monotonic clock (CLOCK_MONOTONIC). */
TD_API uint64_t td_now_ms(void);

struct td_time_driver;

/* A timer registration, embedded in the futures that wait on time.
 * Private: touched only by the runtime, under its timer lock. */
typedef struct td_timer_entry {
	struct td_timer_entry *prev, *next; /* wheel slot list */
	struct td_time_driver *driver;      /* NULL: not registered */
	uint64_t deadline;                  /* in wheel ticks (ms) */
	td_waker waker;
	int fired;                          /* set by the driver */
	uint8_t level, slot;
} td_timer_entry;

/* A future that completes at a deadline. */
typedef struct td_sleep {
	td_future base;
	uint64_t deadline_ms; /* td_now_ms() clock */
	td_timer_entry entry;
} td_sleep;

/* Prepare `s` to complete `ms` milliseconds from now. */
TD_API void td_sleep_init(td_sleep *s, uint64_t ms);

/* Prepare `s` to complete at `deadline_ms` (td_now_ms clock); a deadline in
 * the past completes at the first poll. */
TD_API void td_sleep_until_init(td_sleep *s, uint64_t deadline_ms);

/* Move a sleep's deadline (like tokio's Sleep::reset); the sleep must not
 * be being polled concurrently.  Works whether it was polled or not. */
TD_API void td_sleep_reset(td_sleep *s, uint64_t deadline_ms);

/* A future that runs `inner` with a time limit.  `inner` is not owned:
 * usually it is another member of the same parent struct.  After TD_READY,
 * `timed_out` tells which happened; on a time-out `inner` has been dropped.
 * Dropping a pending timeout drops `inner`. */
typedef struct td_timeout {
	td_future base;
	td_future *inner;
	td_sleep sleep;
	bool timed_out;
	bool done;
} td_timeout;

/* Prepare `t` to await `inner` for at most `ms` milliseconds. */
TD_API void td_timeout_init(td_timeout *t, td_future *inner, uint64_t ms);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_TIME_H */
