/* park.c - putting one thread to sleep until it is needed (see park.h). */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched/park.h"
#include "task/current.h"
#include "sched/runtime_impl.h"

void td_futex_wait(_Atomic uint32_t *word, uint32_t expect)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expect, NULL,
		NULL, 0);
}

void td_futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL,
		NULL, 0);
}

/* The driver is held by at most one thread: the one sleeping in (or
 * polling) epoll.  Others sleep on their futex. */
bool td_driver_try_lock(struct td_runtime *rt)
{
	bool expect = false;
	return atomic_compare_exchange_strong_explicit(
		&rt->driver_busy, &expect, true, memory_order_acquire,
		memory_order_relaxed);
}

/* Something may need the driver: timers armed or descriptors
 * registered. */
static bool driver_has_work(struct td_runtime *rt)
{
	return atomic_load_explicit(&rt->timers_armed, memory_order_relaxed) ||
	       atomic_load_explicit(&rt->io.registered, memory_order_relaxed);
}

static void wake_driver_waiter(struct td_runtime *rt)
{
	if (rt->fops && rt->fops->wake_driver_waiter)
		rt->fops->wake_driver_waiter(rt);
}

/* Release the driver.  Its holder goes on to poll tasks - possibly for
 * long, if a task blocks its thread - so a thread asleep on its futex
 * because the driver was taken (driver_waiters) is woken to take it over
 * when there is anything to watch: timers and I/O keep firing while any
 * worker is stuck.  The seq_cst store and the load of driver_waiters pair
 * with the waiter's increment and load of driver_busy (td_parker_park):
 * at least one of the two sees the other. */
void td_driver_unlock(struct td_runtime *rt)
{
	atomic_store_explicit(&rt->driver_busy, false, memory_order_seq_cst);
	if (atomic_load_explicit(&rt->driver_waiters, memory_order_seq_cst) &&
	    driver_has_work(rt))
		wake_driver_waiter(rt);
}

void td_driver_ensure_watched(struct td_runtime *rt)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&rt->driver_busy, memory_order_seq_cst) &&
	    atomic_load_explicit(&rt->driver_waiters, memory_order_seq_cst))
		wake_driver_waiter(rt);
}

/* Take a pending notification; true if there was one. */
static bool consume_notified(struct td_parker *p)
{
	uint32_t expect = TD_PARK_NOTIFIED;
	return atomic_compare_exchange_strong_explicit(
		&p->state, &expect, TD_PARK_EMPTY, memory_order_acq_rel,
		memory_order_acquire);
}

/* Move EMPTY -> `to`; false when a notification arrived first (it is
 * consumed). */
static bool enter(struct td_parker *p, uint32_t to)
{
	uint32_t expect = TD_PARK_EMPTY;
	if (atomic_compare_exchange_strong_explicit(&p->state, &expect, to,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return true;
	atomic_store_explicit(&p->state, TD_PARK_EMPTY, memory_order_release);
	return false;
}

void td_parker_park(struct td_parker *p, struct td_runtime *rt)
{
	td_task_clock_forget();
	if (consume_notified(p))
		return;
	for (;;) {
		if (rt && td_driver_try_lock(rt)) {
			if (enter(p, TD_PARK_DRIVER)) {
				int timeout =
					td_time_driver_park_timeout(&rt->time);
				td_io_driver_poll(&rt->io, timeout);
				td_time_driver_unparked(&rt->time);
				atomic_exchange_explicit(&p->state,
							 TD_PARK_EMPTY,
							 memory_order_acq_rel);
				td_time_driver_process(&rt->time);
			}
			td_driver_unlock(rt);
			return;
		}
		if (!enter(p, TD_PARK_FUTEX))
			return;
		if (!rt)
			break;
		/* Asleep because the driver is taken: count ourselves, then
		 * look again - its holder may have left it just now, seeing
		 * no waiter (see td_driver_unlock). */
		atomic_fetch_add_explicit(&rt->driver_waiters, 1,
					  memory_order_seq_cst);
		if (!atomic_load_explicit(&rt->driver_busy,
					  memory_order_seq_cst)) {
			atomic_fetch_sub_explicit(&rt->driver_waiters, 1,
						  memory_order_seq_cst);
			uint32_t expect = TD_PARK_FUTEX;
			if (atomic_compare_exchange_strong_explicit(
				    &p->state, &expect, TD_PARK_EMPTY,
				    memory_order_acq_rel,
				    memory_order_acquire))
				continue; /* take the driver after all */
			/* Unparked meanwhile: that wake-up is ours. */
			atomic_store_explicit(&p->state, TD_PARK_EMPTY,
					      memory_order_release);
			return;
		}
		break;
	}
	while (atomic_load_explicit(&p->state, memory_order_acquire) ==
	       TD_PARK_FUTEX)
		td_futex_wait(&p->state, TD_PARK_FUTEX);
	if (rt)
		atomic_fetch_sub_explicit(&rt->driver_waiters, 1,
					  memory_order_seq_cst);
	atomic_store_explicit(&p->state, TD_PARK_EMPTY, memory_order_release);
}

void td_parker_unpark(struct td_parker *p, struct td_runtime *rt)
{
	uint32_t prev = atomic_exchange_explicit(&p->state, TD_PARK_NOTIFIED,
						 memory_order_acq_rel);
	if (prev == TD_PARK_FUTEX)
		td_futex_wake(&p->state, 1);
	else if (prev == TD_PARK_DRIVER && rt)
		td_io_driver_wake(&rt->io);
}

bool td_driver_poll_now(struct td_runtime *rt)
{
	td_task_clock_forget();
	if (!td_driver_try_lock(rt))
		return false;
	td_io_driver_poll(&rt->io, 0);
	td_time_driver_process(&rt->time);
	td_driver_unlock(rt);
	return true;
}
