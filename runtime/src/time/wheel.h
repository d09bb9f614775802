/* wheel.h - internal: a hierarchical timing wheel (millisecond ticks).
 *
 * Six levels of 64 slots: level L slot s covers ticks whose bits
 * [6L, 6L+6) equal s, within the current level-(L+1) block of `elapsed`.
 * An entry goes to the level of the highest bit in which its deadline
 * differs from `elapsed`, so every entry of level L expires after every
 * entry of levels below L.  Advancing takes the next occupied slot of the
 * lowest occupied level; entries of higher-level slots are re-inserted
 * (cascade) until they land in level 0, whose slots hold exactly one tick.
 * Insert, remove: O(1).  Advance: O(expired + cascaded).
 *
 * Deadlines more than 64^6 ticks (~2.2 years) ahead are parked in the
 * top level and re-inserted when it comes round.  The wheel owns no
 * memory: entries are td_timer_entry structs embedded in futures.
 * Not thread-safe: the time driver's lock protects it.
 */
#ifndef TD_TIME_WHEEL_H
#define TD_TIME_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#include "taskdump/time.h"

#define TD_WHEEL_LEVELS 6
#define TD_WHEEL_SLOTS 64

struct td_wheel_level {
	uint64_t occupied; /* bit s: slots[s] is non-empty */
	td_timer_entry *slots[TD_WHEEL_SLOTS];
};

struct td_wheel {
	uint64_t elapsed; /* ticks processed so far */
	struct td_wheel_level levels[TD_WHEEL_LEVELS];
};

void td_wheel_init(struct td_wheel *w, uint64_t now);

/* Insert e, whose `deadline` is set.  Returns false (not inserted) when the
 * deadline is not after `elapsed`: it has expired already. */
bool td_wheel_insert(struct td_wheel *w, td_timer_entry *e);

/* Remove e, which must be in the wheel. */
void td_wheel_remove(struct td_wheel *w, td_timer_entry *e);

/* The tick at which the next slot must be processed (not later than the
 * earliest deadline), or UINT64_MAX when the wheel is empty. */
uint64_t td_wheel_next_expiration(const struct td_wheel *w);

/* Advance to `now`; returns the expired entries (deadline <= now), removed
 * from the wheel and linked through `next`. */
td_timer_entry *td_wheel_advance(struct td_wheel *w, uint64_t now);

/* True when no entry is in the wheel. */
bool td_wheel_is_empty(const struct td_wheel *w);


#endif /* TD_TIME_WHEEL_H */
