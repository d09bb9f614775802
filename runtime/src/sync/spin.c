/* spin.c - the contended path of the spin lock (sync/spin.h). */
#include <sched.h>

#include "sync/spin.h"

/* Rounds of `pause` before every round yields the CPU: a holder that is
 * running on another CPU releases within a few hundred cycles. */
#define SPINS_BEFORE_YIELD 100

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

void td_sync_spin_lock_slow(sync_spin *l)
{
	for (unsigned round = 0;; round++) {
		/* Read until it looks free, then try: no stream of failed
		 * CASes bouncing the line while the holder works. */
		while (__atomic_load_n(&l->word, __ATOMIC_RELAXED) != 0) {
			if (round >= SPINS_BEFORE_YIELD)
				sched_yield();
			else
				cpu_relax();
			round++;
		}
		uint32_t free_word = 0;
		if (__atomic_compare_exchange_n(&l->word, &free_word, 1, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
	}
}
