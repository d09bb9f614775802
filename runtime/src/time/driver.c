/* driver.c - a runtime's timers (see driver.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "time/driver.h"

uint64_t td_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t tick_of(const struct td_time_driver *d, uint64_t ms)
{
	return ms > d->start_ms ? ms - d->start_ms : 0;
}

void td_time_driver_init(struct td_time_driver *d,
			 const struct td_time_hooks *hooks, void *arg)
{
	pthread_mutex_init(&d->lock, NULL);
	d->start_ms = td_now_ms();
	td_wheel_init(&d->wheel, 0);
	atomic_init(&d->parked_until, 0);
	d->hooks = hooks;
	d->hooks_arg = arg;
	d->closed = false;
}

void td_time_driver_shutdown(struct td_time_driver *d)
{
	/* Every task's future was dropped (and cancelled its timers).  A
	 * future that is not a task - given back by td_runtime_block_on with
	 * -ESHUTDOWN - may still have one: it keeps its runtime reference
	 * (and so this lock) until its owner drops it.  Refuse new ones. */
	pthread_mutex_lock(&d->lock);
	d->closed = true;
	pthread_mutex_unlock(&d->lock);
}

void td_time_driver_destroy(struct td_time_driver *d)
{
	pthread_mutex_destroy(&d->lock);
}

int td_time_driver_park_timeout(struct td_time_driver *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t next = td_wheel_next_expiration(&d->wheel);
	atomic_store_explicit(&d->parked_until, next, memory_order_seq_cst);
	pthread_mutex_unlock(&d->lock);
	if (next == UINT64_MAX)
		return -1;
	uint64_t now = tick_of(d, td_now_ms());
	if (next <= now)
		return 0;
	uint64_t ms = next - now;
	return ms > 3600000u ? 3600000 : (int)ms;
}

void td_time_driver_unparked(struct td_time_driver *d)
{
	/* 0: nobody sleeps on a timeout; whoever parks next reads the wheel
	 * (under the lock) and sees every timer registered until then. */
	atomic_store_explicit(&d->parked_until, 0, memory_order_relaxed);
}

unsigned td_time_driver_process(struct td_time_driver *d)
{
	enum { INLINE = 32 };
	td_waker inline_wakers[INLINE];
	td_waker *wakers = inline_wakers;
	size_t n = 0, cap = INLINE, fired = 0;

	pthread_mutex_lock(&d->lock);
	uint64_t now = tick_of(d, td_now_ms());
	td_timer_entry *e = td_wheel_advance(&d->wheel, now);
	while (e) {
		td_timer_entry *next = e->next;
		e->next = NULL;
		if (n == cap) {
			/* Rare: more than INLINE timers due at once. */
			size_t ncap = cap * 2;
			td_waker *p = malloc(ncap * sizeof(*p));
			if (p) {
				memcpy(p, wakers, n * sizeof(*p));
				if (wakers != inline_wakers)
					free(wakers);
				wakers = p;
				cap = ncap;
			}
		}
		if (n < cap) {
			wakers[n++] = e->waker;
		} else {
			/* Out of memory: wake it under the lock. */
			td_waker_wake_by_ref(&e->waker);
			td_waker_drop(&e->waker);
		}
		e->waker = (td_waker){NULL, NULL};
		/* After this store the future may complete - but its poll
		 * then calls td_time_entry_cancel(), which still sees
		 * `driver` set and waits for this lock. */
		__atomic_store_n(&e->fired, 1, __ATOMIC_RELEASE);
		/* The last write to the entry.  A td_time_entry_cancel()
		 * (a drop, td_sleep_reset) that reads NULL here returns
		 * without the lock, and the entry's memory may be reused or
		 * freed at once: no store to it may follow this one.
		 * (It used to come first, so a racing drop + re-init could
		 * see `fired` set by this loop afterwards, or a freed future
		 * be written to.) */
		__atomic_store_n(&e->driver, NULL, __ATOMIC_RELEASE);
		fired++;
		e = next;
	}
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; i < n; i++)
		td_waker_wake(&wakers[i]);
	if (wakers != inline_wakers)
		free(wakers);
	/* The fired entries' holds (never the last: the driver only runs
	 * while its owner is alive). */
	if (d->hooks && d->hooks->release)
		for (size_t i = 0; i < fired; i++)
			d->hooks->release(d->hooks_arg);
	return (unsigned)fired;
}

int td_time_driver_register(struct td_time_driver *d, td_timer_entry *e,
			    uint64_t deadline_ms, const td_waker *w)
{
	uint64_t deadline = tick_of(d, deadline_ms);
	bool earlier = false, unwatched = false;

	pthread_mutex_lock(&d->lock);
	if (__atomic_load_n(&e->fired, __ATOMIC_RELAXED) || d->closed) {
		pthread_mutex_unlock(&d->lock);
		return 1;
	}
	if (!e->driver) {
		e->deadline = deadline;
		if (!td_wheel_insert(&d->wheel, e)) {
			pthread_mutex_unlock(&d->lock);
			return 1;
		}
		__atomic_store_n(&e->driver, d, __ATOMIC_RELAXED);
		/* A registration keeps the owner (and this lock) alive. */
		if (d->hooks && d->hooks->hold)
			d->hooks->hold(d->hooks_arg);
		uint64_t until = atomic_load_explicit(&d->parked_until,
						      memory_order_seq_cst);
		earlier = deadline < until;
		unwatched = until == 0;
	}
	td_waker_register(&e->waker, w);
	pthread_mutex_unlock(&d->lock);
	if (earlier && d->hooks && d->hooks->unpark)
		d->hooks->unpark(d->hooks_arg);
	else if (unwatched && d->hooks && d->hooks->unwatched)
		d->hooks->unwatched(d->hooks_arg);
	return 0;
}

void td_time_entry_cancel(td_timer_entry *e)
{
	/* Unlocked peek: NULL means never registered, or fired and no
	 * longer touched by the driver (acquire: pairs with the release
	 * store that is the driver's last write to a fired entry). */
	struct td_time_driver *d = __atomic_load_n(&e->driver,
						   __ATOMIC_ACQUIRE);
	td_waker w = {NULL, NULL};

	if (!d)
		return;
	bool removed = false;
	pthread_mutex_lock(&d->lock);
	/* Re-check under the lock: the driver may have fired it. */
	if (e->driver == d) {
		td_wheel_remove(&d->wheel, e);
		__atomic_store_n(&e->driver, NULL, __ATOMIC_RELAXED);
		w = e->waker;
		e->waker = (td_waker){NULL, NULL};
		removed = true;
	}
	pthread_mutex_unlock(&d->lock);
	td_waker_drop(&w);
	/* Maybe the last reference (a future dropped after td_runtime_free):
	 * nothing of `d` after this. */
	if (removed && d->hooks && d->hooks->release)
		d->hooks->release(d->hooks_arg);
}
