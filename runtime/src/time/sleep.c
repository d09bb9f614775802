/* sleep.c - td_sleep and td_timeout (taskdump/time.h). */
#include <string.h>
#include <time.h>

#include "sched/context.h"
#include "time/driver.h"
#include "trace/leaf.h"

/* Round up: a sleep never completes early on the millisecond clock.
 * Saturate: a huge `ms` ("forever", e.g. UINT64_MAX) must not wrap around
 * into the past and complete at once. */
static uint64_t deadline_after(uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now_us = (uint64_t)ts.tv_sec * 1000000u +
			  (uint64_t)ts.tv_nsec / 1000u;
	uint64_t now_ms = (now_us + 999u) / 1000u;
	return ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ms;
}

static td_poll td_sleep_poll(td_future *f, td_context *cx)
{
	td_sleep *s = (td_sleep *)f;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_SLEEP, .deadline_ms = s->deadline_ms);
	if (!td_time_entry_fired(&s->entry) && td_now_ms() < s->deadline_ms) {
		struct td_time_driver *d =
			__atomic_load_n(&s->entry.driver, __ATOMIC_RELAXED);
		if (!d)
			d = td_current_time_driver("td_sleep");
		if (td_time_driver_register(d, &s->entry, s->deadline_ms,
					    cx->waker) == 0)
			return TD_PENDING;
	}
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	td_time_entry_cancel(&s->entry);
	return TD_READY;
}

static void sleep_drop(td_future *f)
{
	td_sleep *s = (td_sleep *)f;
	td_time_entry_cancel(&s->entry);
}

static const td_future_vtable sleep_vtable = {
	.poll = td_sleep_poll,
	.drop = sleep_drop,
	.type_name = "td_sleep",
};

void td_sleep_until_init(td_sleep *s, uint64_t deadline_ms)
{
	memset(s, 0, sizeof(*s));
	s->base.vtable = &sleep_vtable;
	s->deadline_ms = deadline_ms;
}

void td_sleep_init(td_sleep *s, uint64_t ms)
{
	td_sleep_until_init(s, deadline_after(ms));
}

void td_sleep_reset(td_sleep *s, uint64_t deadline_ms)
{
	td_time_entry_cancel(&s->entry);
	td_sleep_until_init(s, deadline_ms);
}

/* ---- timeout --------------------------------------------------------- */

static td_poll td_timeout_poll(td_future *f, td_context *cx)
{
	td_timeout *t = (td_timeout *)f;

	if (t->done)
		return TD_READY;
	/* Inner first: a result that is ready wins over an expired timer.
	 * Both are polled from one call site, so that a dump shows the
	 * timeout as one node with both branches below it. */
	td_future *const branch[2] = {t->inner, &t->sleep.base};
	for (int i = 0; i < 2; i++) {
		if (td_async_poll_child(branch[i], cx) != TD_READY ||
		    td_capture_on(cx))
			continue;
		t->timed_out = i == 1;
		if (t->timed_out)
			td_future_drop(t->inner);
		else
			td_time_entry_cancel(&t->sleep.entry);
		t->done = true;
		return TD_READY;
	}
	return TD_PENDING;
}

static void timeout_drop(td_future *f)
{
	td_timeout *t = (td_timeout *)f;
	if (t->done)
		return;
	td_future_drop(t->inner);
	td_time_entry_cancel(&t->sleep.entry);
	t->done = true;
}

static const td_future_vtable timeout_vtable = {
	.poll = td_timeout_poll,
	.drop = timeout_drop,
	.type_name = "td_timeout",
};

void td_timeout_init(td_timeout *t, td_future *inner, uint64_t ms)
{
	t->base.vtable = &timeout_vtable;
	t->inner = inner;
	td_sleep_init(&t->sleep, ms);
	t->timed_out = false;
	t->done = false;
}
