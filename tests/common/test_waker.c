/* test_waker.c - a counting waker for polling futures by hand in tests. */
#include "test_waker.h"

static td_waker tw_clone(const void *data);
static void tw_wake(void *data);
static void tw_wake_by_ref(const void *data);
static void tw_drop(void *data);

static const td_waker_vtable tw_vtable = {tw_clone, tw_wake, tw_wake_by_ref,
					  tw_drop};

static td_waker tw_clone(const void *data)
{
	test_waker *tw = (test_waker *)data;
	atomic_fetch_add(&tw->refs, 1);
	return (td_waker){&tw_vtable, tw};
}

static void tw_wake(void *data)
{
	test_waker *tw = data;
	atomic_fetch_add(&tw->wakes, 1);
	atomic_fetch_sub(&tw->refs, 1);
}

static void tw_wake_by_ref(const void *data)
{
	test_waker *tw = (test_waker *)data;
	atomic_fetch_add(&tw->wakes, 1);
}

static void tw_drop(void *data)
{
	test_waker *tw = data;
	atomic_fetch_sub(&tw->refs, 1);
}

void test_waker_init(test_waker *tw)
{
	atomic_store(&tw->wakes, 0);
	atomic_store(&tw->refs, 0);
}

td_waker test_waker_make(test_waker *tw)
{
	atomic_fetch_add(&tw->refs, 1);
	return (td_waker){&tw_vtable, tw};
}
