/* stuck.c - the task a 3 a.m. dump is for: it waits for a configuration
 * reload that nobody will ever send.  The sender side of the oneshot is
 * kept alive (struct demo.reload), so the wait never ends - exactly the
 * kind of hang that is invisible without a task dump. */
#include "demo.h"

typedef struct await_reload {
	td_future base;
	td_async as;
	struct demo *d;
	td_oneshot_recv recv;
} await_reload;

static td_poll await_reload_poll(td_future *f, td_context *cx)
{
	await_reload *w = (await_reload *)f;
	TD_BEGIN(&w->as);
	td_oneshot_recv_init(&w->recv, w->d->reload);
	TD_AWAIT(&w->as, &w->recv, cx);
	TD_END(&w->as);
}

static void await_reload_drop(td_future *f)
{
	td_async_drop(&((await_reload *)f)->as);
}

static const td_future_vtable await_reload_vtable = {
	.poll = await_reload_poll, .drop = await_reload_drop,
	.type_name = "await_reload"};

typedef struct config_watcher {
	td_future base;
	td_async as;
	struct demo *d;
	await_reload wait;
} config_watcher;

static td_poll config_watcher_poll(td_future *f, td_context *cx)
{
	config_watcher *c = (config_watcher *)f;
	TD_BEGIN(&c->as);
	c->wait = (await_reload){.base = {&await_reload_vtable}, .d = c->d};
	TD_AWAIT(&c->as, &c->wait, cx);
	TD_END(&c->as);
}

static void config_watcher_drop(td_future *f)
{
	td_async_drop(&((config_watcher *)f)->as);
}

static const td_future_vtable config_watcher_vtable = {
	.poll = config_watcher_poll, .drop = config_watcher_drop,
	.type_name = "config_watcher"};

int demo_spawn_stuck(struct demo *d)
{
	config_watcher c = {.base = {&config_watcher_vtable}, .d = d};
	return td_spawn_named(d->rt, "config-watcher", &c, NULL);
}
