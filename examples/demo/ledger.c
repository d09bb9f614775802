/* ledger.c - accountants contending on one async mutex.
 *
 * Each accountant posts to the shared ledger in a loop; a post holds the
 * mutex across an async sleep, so at any moment one accountant holds it
 * and the others queue behind it (FIFO), which a dump shows as "mutex held
 * by task N". */
#include <errno.h>

#include "demo.h"

static td_poll demo_post_poll(td_future *f, td_context *cx)
{
	demo_post *p = (demo_post *)f;
	TD_BEGIN(&p->as);
	td_mutex_lock_init(&p->lock, &p->d->ledger_lock);
	TD_AWAIT(&p->as, &p->lock, cx);
	td_sleep_init(&p->hold, p->hold_ms);
	TD_AWAIT(&p->as, &p->hold, cx);
	p->d->ledger++; /* guarded by ledger_lock */
	atomic_fetch_add(&p->d->ledger_posts, 1);
	td_mutex_unlock(&p->d->ledger_lock);
	TD_END(&p->as);
}

static void demo_post_drop(td_future *f)
{
	demo_post *p = (demo_post *)f;
	/* Suspended in the sleep: we hold the lock and must give it back. */
	bool holding = p->as.awaiting == &p->hold.base;
	td_async_drop(&p->as);
	if (holding)
		td_mutex_unlock(&p->d->ledger_lock);
}

static const td_future_vtable demo_post_vtable = {
	.poll = demo_post_poll, .drop = demo_post_drop, .type_name = "demo_post"};

void demo_post_init(demo_post *p, struct demo *d, uint64_t hold_ms)
{
	p->base.vtable = &demo_post_vtable;
	td_async_init(&p->as);
	p->d = d;
	p->hold_ms = hold_ms;
}

typedef struct accountant {
	td_future base;
	td_async as;
	struct demo *d;
	demo_post post;
	td_sleep rest;
} accountant;

static td_poll accountant_poll(td_future *f, td_context *cx)
{
	accountant *a = (accountant *)f;
	TD_BEGIN(&a->as);
	for (;;) {
		demo_post_init(&a->post, a->d, 15);
		TD_AWAIT(&a->as, &a->post, cx);
		td_sleep_init(&a->rest, 5);
		TD_AWAIT(&a->as, &a->rest, cx);
	}
	TD_END(&a->as);
}

static void accountant_drop(td_future *f)
{
	td_async_drop(&((accountant *)f)->as);
}

static const td_future_vtable accountant_vtable = {
	.poll = accountant_poll, .drop = accountant_drop,
	.type_name = "accountant"};

int demo_spawn_ledger(struct demo *d)
{
	for (unsigned i = 0; i < d->accountants; i++) {
		accountant a = {.base = {&accountant_vtable}, .d = d};
		int err = td_spawn_named(d->rt, "accountant", &a, NULL);
		if (err)
			return err;
	}
	return 0;
}
