/* test_waker.h - a counting waker for polling futures by hand in tests. */
#ifndef TD_TEST_WAKER_H
#define TD_TEST_WAKER_H

#include <stdatomic.h>

#include "taskdump/future.h"
#include "taskdump/waker.h"

/* Counts wakes and live references; thread-safe. */
typedef struct test_waker {
	atomic_int wakes; /* wake + wake_by_ref calls */
	atomic_int refs;  /* clones not yet dropped or consumed by wake */
} test_waker;

/* Reset the counters. */
void test_waker_init(test_waker *tw);

/* A td_waker for tw; counts as one reference (drop it with td_waker_drop). */
td_waker test_waker_make(test_waker *tw);

/* A poll context whose waker is *w (w must outlive the context's use). */
static inline td_context test_context(const td_waker *w)
{
	td_context cx = {.waker = w};
	return cx;
}

#endif /* TD_TEST_WAKER_H */
