/* taskdump/waker.h - wakers: how a pending future asks to be polled again.
 *
 * A waker is two words: a vtable and a data pointer, like Rust's RawWaker.
 * The runtime's task waker keeps its task alive by reference counting;
 * combinators may build wakers of their own.  A zero-initialised td_waker
 * (vtable == NULL) is "no waker": every function below accepts it and does
 * nothing, so a waiter slot can start out empty.
 *
 * Waking a task that has finished, been aborted or been dropped by a runtime
 * shutdown is harmless.
 */
#ifndef TASKDUMP_WAKER_H
#define TASKDUMP_WAKER_H

#include <stdbool.h>
#include <stddef.h>

#include "taskdump/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_waker td_waker;

/* The operations behind a waker.  All four are required. */
typedef struct td_waker_vtable {
	/* Return a new waker for the same target (takes a reference). */
	td_waker (*clone)(const void *data);
	/* Wake the target and release this waker's reference. */
	void (*wake)(void *data);
	/* Wake the target; the waker stays valid. */
	void (*wake_by_ref)(const void *data);
	/* Release this waker's reference without waking. */
	void (*drop)(void *data);
} td_waker_vtable;

struct td_waker {
	const td_waker_vtable *vtable; /* NULL: empty slot */
	void *data;
};

/* Return a clone of *w (an empty waker for an empty one). */
TD_API td_waker td_waker_clone(const td_waker *w);

/* Wake the target and release *w; *w is empty afterwards. */
TD_API void td_waker_wake(td_waker *w);

/* Wake the target of *w; *w stays valid. */
TD_API void td_waker_wake_by_ref(const td_waker *w);

/* Release *w without waking; *w is empty afterwards. */
TD_API void td_waker_drop(td_waker *w);

/* True when a and b would wake the same target (same vtable and data). */
static inline bool td_waker_will_wake(const td_waker *a, const td_waker *b)
{
	return a->vtable == b->vtable && a->data == b->data;
}

/* Store a clone of `w` in `slot` unless the slot already wakes the same
 * target.  The usual first step of a leaf that is about to return
 * TD_PENDING.  Not thread-safe on its own: callers protect the slot. */
TD_API void td_waker_register(td_waker *slot, const td_waker *w);

/* A waker that does nothing when woken (useful for polling by hand). */
TD_API td_waker td_waker_noop(void);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_WAKER_H */
