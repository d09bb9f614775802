/* ticker.c - a task on a timer: every 200 ms it counts a tick and wakes
 * everyone waiting for the next one. */
#include "demo.h"

#define TICK_MS 200

typedef struct ticker {
	td_future base;
	td_async as;
	struct demo *d;
	uint64_t next_ms;
	td_sleep sleep;
} ticker;

static td_poll ticker_poll(td_future *f, td_context *cx)
{
	ticker *t = (ticker *)f;
	TD_BEGIN(&t->as);
	t->next_ms = td_now_ms();
	for (;;) {
		/* Deadlines, not durations: the ticker does not drift. */
		t->next_ms += TICK_MS;
		td_sleep_until_init(&t->sleep, t->next_ms);
		TD_AWAIT(&t->as, &t->sleep, cx);
		atomic_fetch_add(&t->d->ticks, 1);
		td_notify_waiters(&t->d->tick);
	}
	TD_END(&t->as);
}

static void ticker_drop(td_future *f)
{
	td_async_drop(&((ticker *)f)->as);
}

static const td_future_vtable ticker_vtable = {
	.poll = ticker_poll, .drop = ticker_drop, .type_name = "ticker"};

int demo_spawn_ticker(struct demo *d)
{
	ticker t = {.base = {&ticker_vtable}, .d = d};
	return td_spawn_named(d->rt, "ticker", &t, NULL);
}
