/* main_waker.h - internal: the waker of a td_runtime_block_on future. */
#ifndef TD_SCHED_MAIN_WAKER_H
#define TD_SCHED_MAIN_WAKER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "sched/park.h"
#include "taskdump/waker.h"

struct td_runtime;

struct td_main_waker {
	_Atomic unsigned refs;
	_Atomic bool woken;           /* starts true: poll at once */
	struct td_parker own;         /* used when no target is given */
	struct td_parker *target;
	struct td_runtime *driver_rt; /* non-NULL when target may sleep in
				       * the runtime's driver */
	struct td_runtime *rt;        /* referenced while any clone lives */
};

/* A main waker that unparks `target` (NULL: its own parker, for a thread
 * that is not the runtime's driver).  NULL when out of memory. */
struct td_main_waker *td_main_waker_new(struct td_runtime *rt,
					struct td_parker *target);

/* Drop the block_on call's reference. */
void td_main_waker_release(struct td_main_waker *mw);

/* A td_waker for a poll context (no reference taken). */
td_waker td_main_waker_borrow(struct td_main_waker *mw);

/* Was it woken since the last call? (clears the flag) */
bool td_main_waker_take(struct td_main_waker *mw);

#endif /* TD_SCHED_MAIN_WAKER_H */
