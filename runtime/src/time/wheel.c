/* wheel.c - a hierarchical timing wheel (see wheel.h). */
#include <string.h>

#include "time/wheel.h"

#define BITS 6
#define MAX_SPAN ((uint64_t)1 << (BITS * TD_WHEEL_LEVELS))

void td_wheel_init(struct td_wheel *w, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	w->elapsed = now;
}

bool td_wheel_is_empty(const struct td_wheel *w)
{
	for (int l = 0; l < TD_WHEEL_LEVELS; l++)
		if (w->levels[l].occupied)
			return false;
	return true;
}

/* Where an entry due at `when` (> elapsed) belongs. */
static void place(const struct td_wheel *w, uint64_t when, unsigned *level,
		  unsigned *slot)
{
	if (when - w->elapsed >= MAX_SPAN)
		when = w->elapsed + MAX_SPAN - 1;
	uint64_t differ = (w->elapsed ^ when) | (TD_WHEEL_SLOTS - 1);
	unsigned top_bit = 63u - (unsigned)__builtin_clzll(differ);
	unsigned l = top_bit / BITS;
	if (l < TD_WHEEL_LEVELS) {
		*level = l;
		*slot = (unsigned)(when >> (BITS * l)) & (TD_WHEEL_SLOTS - 1);
		return;
	}
	/* `when` lies in the top level's next block (it is less than
	 * MAX_SPAN ahead, so its top digit is <= the current one).
	 * next_slot() reads a top-level slot behind the current one as
	 * belonging to that next block - but the current slot itself as
	 * belonging to this block, i.e. as due now.  An entry parked there
	 * would be cascaded straight back into the same slot by
	 * td_wheel_advance, forever (this happened to every deadline more
	 * than 64^6 ticks ahead once `elapsed` had left a multiple of
	 * 2^30).  So never park in the current slot: use the one before it
	 * (next block, starting no later than `when`), or, when the current
	 * slot is slot 0, the last slot of this block (also no later than
	 * `when`, and still ahead of `elapsed`). */
	const unsigned top = TD_WHEEL_LEVELS - 1;
	unsigned cur = (unsigned)(w->elapsed >> (BITS * top)) &
		       (TD_WHEEL_SLOTS - 1);
	unsigned s = (unsigned)(when >> (BITS * top)) & (TD_WHEEL_SLOTS - 1);
	if (s == cur)
		s = cur ? cur - 1 : TD_WHEEL_SLOTS - 1;
	*level = top;
	*slot = s;
}

bool td_wheel_insert(struct td_wheel *w, td_timer_entry *e)
{
	if (e->deadline <= w->elapsed)
		return false;
	unsigned l, s;
	place(w, e->deadline, &l, &s);
	struct td_wheel_level *lv = &w->levels[l];
	e->level = (uint8_t)l;
	e->slot = (uint8_t)s;
	e->prev = NULL;
	e->next = lv->slots[s];
	if (e->next)
		e->next->prev = e;
	lv->slots[s] = e;
	lv->occupied |= (uint64_t)1 << s;
	return true;
}

void td_wheel_remove(struct td_wheel *w, td_timer_entry *e)
{
	struct td_wheel_level *lv = &w->levels[e->level];
	if (e->prev)
		e->prev->next = e->next;
	else
		lv->slots[e->slot] = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	if (!lv->slots[e->slot])
		lv->occupied &= ~((uint64_t)1 << e->slot);
}

/* The next occupied slot of level l and the tick at which it starts. */
static bool next_slot(const struct td_wheel *w, unsigned l, unsigned *slot,
		      uint64_t *start)
{
	uint64_t occ = w->levels[l].occupied;
	if (!occ)
		return false;
	unsigned shift = BITS * l;
	unsigned cur = (unsigned)(w->elapsed >> shift) & (TD_WHEEL_SLOTS - 1);
	uint64_t block = (uint64_t)1 << (shift + BITS);
	uint64_t base = w->elapsed & ~(block - 1);
	uint64_t ahead = occ & (~(uint64_t)0 << cur);
	unsigned s;
	if (ahead) {
		s = (unsigned)__builtin_ctzll(ahead);
	} else {
		/* Only parked far-future entries can sit "behind" the
		 * current slot: they belong to the next block. */
		s = (unsigned)__builtin_ctzll(occ);
		base += block;
	}
	*slot = s;
	*start = base + ((uint64_t)s << shift);
	return true;
}

uint64_t td_wheel_next_expiration(const struct td_wheel *w)
{
	for (unsigned l = 0; l < TD_WHEEL_LEVELS; l++) {
		unsigned s;
		uint64_t start;
		if (next_slot(w, l, &s, &start))
			return start > w->elapsed ? start : w->elapsed;
	}
	return UINT64_MAX;
}

td_timer_entry *td_wheel_advance(struct td_wheel *w, uint64_t now)
{
	td_timer_entry *expired = NULL, **tail = &expired;

	for (;;) {
		unsigned l, s = 0;
		uint64_t start = 0;
		for (l = 0; l < TD_WHEEL_LEVELS; l++)
			if (next_slot(w, l, &s, &start))
				break;
		if (l == TD_WHEEL_LEVELS || start > now)
			break;
		if (start > w->elapsed)
			w->elapsed = start;
		struct td_wheel_level *lv = &w->levels[l];
		td_timer_entry *e = lv->slots[s];
		lv->slots[s] = NULL;
		lv->occupied &= ~((uint64_t)1 << s);
		while (e) {
			td_timer_entry *next = e->next;
			e->prev = e->next = NULL;
			if (e->deadline <= w->elapsed || !td_wheel_insert(w, e)) {
				*tail = e;
				tail = &e->next;
			}
			e = next;
		}
	}
	if (now > w->elapsed)
		w->elapsed = now;
	return expired;
}
