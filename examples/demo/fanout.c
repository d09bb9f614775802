/* fanout.c - one task waiting on join_all of three children, over and
 * over: a nap, the next tick of the ticker, and a post to the contended
 * ledger.  A dump shows one tree with three branches. */
#include "demo.h"

typedef struct nap {
	td_future base;
	td_async as;
	td_sleep sleep;
} nap;

static td_poll nap_poll(td_future *f, td_context *cx)
{
	nap *n = (nap *)f;
	TD_BEGIN(&n->as);
	td_sleep_init(&n->sleep, 700);
	TD_AWAIT(&n->as, &n->sleep, cx);
	TD_END(&n->as);
}

static void nap_drop(td_future *f)
{
	td_async_drop(&((nap *)f)->as);
}

static const td_future_vtable nap_vtable = {
	.poll = nap_poll, .drop = nap_drop, .type_name = "nap"};

typedef struct next_tick {
	td_future base;
	td_async as;
	struct demo *d;
	td_notified notified;
} next_tick;

static td_poll next_tick_poll(td_future *f, td_context *cx)
{
	next_tick *t = (next_tick *)f;
	TD_BEGIN(&t->as);
	td_notified_init(&t->notified, &t->d->tick);
	TD_AWAIT(&t->as, &t->notified, cx);
	TD_END(&t->as);
}

static void next_tick_drop(td_future *f)
{
	td_async_drop(&((next_tick *)f)->as);
}

static const td_future_vtable next_tick_vtable = {
	.poll = next_tick_poll, .drop = next_tick_drop,
	.type_name = "next_tick"};

typedef struct fanout {
	td_future base;
	td_async as;
	struct demo *d;
	nap nap;
	next_tick tick;
	demo_post post;
	td_future *children[3];
	td_join_all all;
} fanout;

static td_poll fanout_poll(td_future *f, td_context *cx)
{
	fanout *o = (fanout *)f;
	TD_BEGIN(&o->as);
	for (;;) {
		o->nap = (nap){.base = {&nap_vtable}};
		o->tick = (next_tick){.base = {&next_tick_vtable}, .d = o->d};
		demo_post_init(&o->post, o->d, 5);
		o->children[0] = &o->nap.base;
		o->children[1] = &o->tick.base;
		o->children[2] = &o->post.base;
		td_join_all_init(&o->all, o->children, 3);
		TD_AWAIT(&o->as, &o->all, cx);
	}
	TD_END(&o->as);
}

static void fanout_drop(td_future *f)
{
	td_async_drop(&((fanout *)f)->as);
}

static const td_future_vtable fanout_vtable = {
	.poll = fanout_poll, .drop = fanout_drop, .type_name = "fanout"};

int demo_spawn_fanout(struct demo *d)
{
	fanout o = {.base = {&fanout_vtable}, .d = d};
	return td_spawn_named(d->rt, "fanout", &o, NULL);
}
