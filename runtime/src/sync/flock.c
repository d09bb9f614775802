/* flock.c - the contended paths of the futex lock (sync/flock.h). */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sync/flock.h"

/* Spins before sleeping: critical sections are a few dozen instructions,
 * so a holder on another CPU is usually about to release. */
#define SPINS 100

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

void td_sync_flock_lock_slow(sync_flock *l)
{
	uint32_t c;

	for (int i = 0; i < SPINS; i++) {
		cpu_relax();
		c = 0;
		if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->word, &c, 1, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
	}
	/* Announce a sleeper (2); whoever unlocks will wake one.  Taking
	 * the lock this way leaves it at 2, which costs the next unlock a
	 * spurious wake at worst - never a lost one. */
	c = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		syscall(SYS_futex, &l->word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL,
			0);
		c = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
	}
}

void td_sync_flock_wake(sync_flock *l)
{
	syscall(SYS_futex, &l->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
