/* spin.h - internal: a spin lock for the owned-task list.
 *
 * The owned list takes a shard lock on every spawn and every completion,
 * for a few dozen instructions.  Against sync_flock (flock.h) this lock
 * saves the unlock's atomic exchange: nobody ever sleeps on the word, so
 * unlocking is a plain release store.  A waiter spins with `pause` and,
 * after a while, yields the CPU on every round, so that a holder that was
 * preempted (two cores, more threads) gets to run.  Only for critical
 * sections that never block and stay short; the longest are a realloc()
 * when a shard grows and a dump's copy of one shard.
 *
 *   0 unlocked, 1 locked.  lock: CAS 0 -> 1 (acquire); unlock: store 0
 *   (release).  Not recursive; no owner checks.
 */
#ifndef TD_SYNC_SPIN_H
#define TD_SYNC_SPIN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sync_spin {
	uint32_t word; /* 0 or 1; zero-initialised = unlocked */
} sync_spin;

/* The contended path (spin.c): spin, then yield, until the CAS wins. */
void td_sync_spin_lock_slow(sync_spin *l);

static inline void sync_spin_lock(sync_spin *l)
{
	uint32_t free_word = 0;

	if (__builtin_expect(__atomic_compare_exchange_n(&l->word, &free_word,
							 1, false,
							 __ATOMIC_ACQUIRE,
							 __ATOMIC_RELAXED),
			     1))
		return;
	td_sync_spin_lock_slow(l);
}

static inline void sync_spin_unlock(sync_spin *l)
{
	__atomic_store_n(&l->word, 0, __ATOMIC_RELEASE);
}

#endif /* TD_SYNC_SPIN_H */
