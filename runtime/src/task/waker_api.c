/* waker_api.c - the generic td_waker operations (taskdump/waker.h). */
#include <stdio.h>
#include <stdlib.h>

#include "taskdump/future.h"
#include "taskdump/waker.h"

td_waker td_waker_clone(const td_waker *w)
{
	if (!w->vtable)
		return (td_waker){NULL, NULL};
	return w->vtable->clone(w->data);
}

void td_waker_wake(td_waker *w)
{
	const td_waker_vtable *vt = w->vtable;
	void *data = w->data;

	w->vtable = NULL;
	w->data = NULL;
	if (vt)
		vt->wake(data);
}

void td_waker_wake_by_ref(const td_waker *w)
{
	if (w->vtable)
		w->vtable->wake_by_ref(w->data);
}

void td_waker_drop(td_waker *w)
{
	const td_waker_vtable *vt = w->vtable;
	void *data = w->data;

	w->vtable = NULL;
	w->data = NULL;
	if (vt)
		vt->drop(data);
}

void td_waker_register(td_waker *slot, const td_waker *w)
{
	if (td_waker_will_wake(slot, w))
		return;
	td_waker_drop(slot);
	*slot = td_waker_clone(w);
}

static td_waker noop_clone(const void *data);
static void noop_wake(void *data) { (void)data; }
static void noop_wake_by_ref(const void *data) { (void)data; }
static void noop_drop(void *data) { (void)data; }

static const td_waker_vtable noop_vtable = {
	.clone = noop_clone,
	.wake = noop_wake,
	.wake_by_ref = noop_wake_by_ref,
	.drop = noop_drop,
};

static td_waker noop_clone(const void *data)
{
	(void)data;
	return (td_waker){&noop_vtable, NULL};
}

td_waker td_waker_noop(void)
{
	return (td_waker){&noop_vtable, NULL};
}

void td_async_polled_after_completion(const char *file, int line)
{
	fprintf(stderr,
		"taskdump: fatal: async function at %s:%d polled again after "
		"it had completed\n",
		file, line);
	abort();
}
