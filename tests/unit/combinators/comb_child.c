/* comb_child.c - child futures for the combinator tests. */
#include <sched.h>

#include "comb_child.h"
#include "test_util.h"

static void ctl_drop(td_future *f);

static const td_future_vtable ctl_vtable = {
	.poll = ctl_poll,
	.drop = ctl_drop,
	.type_name = "ctl_child",
};

void ctl_init(ctl_child *c, const char *label)
{
	c->base.vtable = &ctl_vtable;
	pthread_mutex_init(&c->lock, NULL);
	c->ready = false;
	c->waker = (td_waker){NULL, NULL};
	c->label = label;
	atomic_init(&c->polls, 0);
	atomic_init(&c->drops, 0);
	atomic_init(&c->readies, 0);
}

td_poll ctl_poll(td_future *f, td_context *cx)
{
	ctl_child *c = (ctl_child *)f;
	td_wait w = {.kind = TD_WAIT_OTHER, .object = c, .label = c->label};
	td_waker old = {NULL, NULL};
	bool ready;

	if (td_trace_leaf(cx, &w))
		return TD_PENDING;
	atomic_fetch_add(&c->polls, 1);
	pthread_mutex_lock(&c->lock);
	ready = c->ready;
	if (ready) {
		old = c->waker; /* READY: keep nothing */
		c->waker = (td_waker){NULL, NULL};
	} else {
		td_waker_register(&c->waker, cx->waker);
	}
	pthread_mutex_unlock(&c->lock);
	td_waker_drop(&old);
	if (!ready)
		return TD_PENDING;
	atomic_fetch_add(&c->readies, 1);
	return TD_READY;
}

static void ctl_drop(td_future *f)
{
	ctl_child *c = (ctl_child *)f;
	td_waker old;

	atomic_fetch_add(&c->drops, 1);
	pthread_mutex_lock(&c->lock);
	old = c->waker;
	c->waker = (td_waker){NULL, NULL};
	pthread_mutex_unlock(&c->lock);
	td_waker_drop(&old);
}

void ctl_fire(ctl_child *c)
{
	td_waker w;

	pthread_mutex_lock(&c->lock);
	c->ready = true;
	w = c->waker;
	c->waker = (td_waker){NULL, NULL};
	pthread_mutex_unlock(&c->lock);
	td_waker_wake(&w);
}

td_waker ctl_clone_waker(ctl_child *c)
{
	td_waker w;

	pthread_mutex_lock(&c->lock);
	w = td_waker_clone(&c->waker);
	pthread_mutex_unlock(&c->lock);
	return w;
}

void ctl_poke(ctl_child *c)
{
	td_waker w = ctl_clone_waker(c);

	td_waker_wake(&w);
}

void ctl_destroy(ctl_child *c)
{
	td_waker_drop(&c->waker);
	pthread_mutex_destroy(&c->lock);
}

/* ---- user_child ------------------------------------------------------ */

static td_poll user_poll(td_future *f, td_context *cx)
{
	user_child *u = (user_child *)f;

	atomic_fetch_add(&u->polls, 1);
	if (atomic_load(&u->ready))
		return TD_READY;
	td_waker_register(&u->waker, cx->waker);
	return TD_PENDING;
}

static void user_drop(td_future *f)
{
	user_child *u = (user_child *)f;

	atomic_fetch_add(&u->drops, 1);
	td_waker_drop(&u->waker);
}

static const td_future_vtable user_vtable = {
	.poll = user_poll,
	.drop = user_drop,
	.type_name = "user_child",
};

void user_init(user_child *u)
{
	u->base.vtable = &user_vtable;
	atomic_init(&u->ready, false);
	atomic_init(&u->polls, 0);
	atomic_init(&u->drops, 0);
	u->waker = (td_waker){NULL, NULL};
}

void user_destroy(user_child *u)
{
	td_waker_drop(&u->waker);
}

/* ---- poke_in_trace --------------------------------------------------- */

static td_poll poke_poll(td_future *f, td_context *cx)
{
	poke_in_trace *p = (poke_in_trace *)f;

	if (td_tracing())
		td_waker_wake_by_ref(cx->waker);
	return td_async_poll_child(&p->inner->base, cx);
}

static void poke_drop(td_future *f)
{
	td_future_drop(&((poke_in_trace *)f)->inner->base);
}

static const td_future_vtable poke_vtable = {
	.poll = poke_poll,
	.drop = poke_drop,
	.type_name = "poke_in_trace",
};

void poke_init(poke_in_trace *p, ctl_child *inner)
{
	p->base.vtable = &poke_vtable;
	p->inner = inner;
}

bool wait_change(atomic_int *counter, int old)
{
	uint64_t deadline = test_now_ms() + 10000;

	while (atomic_load(counter) == old) {
		if (test_now_ms() > deadline)
			return false;
		sched_yield();
	}
	return true;
}
