/* flock.h - internal: a small futex lock for the channel hot path.
 *
 * The mpsc channel takes its lock twice per message; an uncontended
 * pthread mutex lock/unlock pair costs ~10 ns here against ~3 ns for this
 * one (a CAS and an exchange), which is a third of a channel round trip.
 * The classic three-state futex mutex (Drepper, "Futexes Are Tricky"):
 *
 *   0 unlocked, 1 locked, 2 locked and someone may sleep in FUTEX_WAIT.
 *
 * lock: CAS 0 -> 1 (acquire); otherwise spin briefly, then exchange in 2
 * and sleep while the old value was not 0.  unlock: exchange in 0
 * (release); if the old value was 2, wake one sleeper.  The acquire and
 * release orders on `word` are what make the critical sections ordered
 * (ThreadSanitizer sees them as such).  Not recursive; no owner checks.
 */
#ifndef TD_SYNC_FLOCK_H
#define TD_SYNC_FLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sync_flock {
	uint32_t word; /* 0, 1 or 2 as above; zero-initialised = unlocked */
} sync_flock;

/* Contended paths (flock.c). */
void td_sync_flock_lock_slow(sync_flock *l);
void td_sync_flock_wake(sync_flock *l);

static inline void sync_flock_lock(sync_flock *l)
{
	uint32_t free_word = 0;

	if (__builtin_expect(__atomic_compare_exchange_n(&l->word, &free_word,
							 1, false,
							 __ATOMIC_ACQUIRE,
							 __ATOMIC_RELAXED),
			     1))
		return;
	td_sync_flock_lock_slow(l);
}

static inline void sync_flock_unlock(sync_flock *l)
{
	if (__builtin_expect(__atomic_exchange_n(&l->word, 0,
						 __ATOMIC_RELEASE) == 2, 0))
		td_sync_flock_wake(l);
}

#endif /* TD_SYNC_FLOCK_H */
