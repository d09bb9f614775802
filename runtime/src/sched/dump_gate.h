/* dump_gate.h - internal: where workers stop for a dump.
 *
 * A dump raises `requested`; every thread that polls tasks checks it at its
 * safe point (between two polls) with one relaxed load, and when it is set
 * calls td_dump_gate_wait(), which parks it until the dump releases it.
 *
 * Rounds: each dump is one round, numbered.  A thread counts itself as
 * arrived for the round it sees; `arrived_round[i]` says which round worker
 * i last arrived for, so the dump knows exactly who is parked - a late
 * worker that arrives after the deadline is parked too (it must not poll
 * while tasks are traced), but the dump has already reported it as busy.
 * Everything but `requested` is under `lock`.  Releasing ends the round:
 * no count survives into the next one, so a timed-out wait needs no
 * rollback.
 */
#ifndef TD_SCHED_DUMP_GATE_H
#define TD_SCHED_DUMP_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct td_dump_gate {
	_Atomic int requested;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	uint64_t round;
	bool active;
	unsigned arrived;
	unsigned nworkers;
	uint64_t *arrived_round; /* [nworkers] */
};

int td_dump_gate_init(struct td_dump_gate *g, unsigned nworkers);
void td_dump_gate_destroy(struct td_dump_gate *g);

/* In a child of fork(): no dump is running there, whatever the parent's
 * was doing at the fork (its lock may be copied held): lowered and
 * re-initialised. */
void td_dump_gate_after_fork_child(struct td_dump_gate *g);

/* The safe-point check. */
static inline bool td_dump_gate_raised(struct td_dump_gate *g)
{
	return atomic_load_explicit(&g->requested, memory_order_relaxed) != 0;
}

/* A worker (index, or -1 for a thread that is not a worker but must not
 * poll either, e.g. a current-thread driver counted as worker 0) stops here
 * until the round it finds is released. */
void td_dump_gate_wait(struct td_dump_gate *g, int worker);

/* Dump side: start a round; `self` is the index of the calling worker
 * (which counts as arrived) or -1.  Returns the round number. */
uint64_t td_dump_gate_open(struct td_dump_gate *g, int self);

/* Dump side: wait until every worker has arrived or `deadline_ms`
 * (td_now_ms clock) passes, or `give_up(arg)` returns true (checked at
 * each wake-up; may be NULL).  Fills parked[i] for each worker.  Returns
 * the number arrived. */
unsigned td_dump_gate_wait_arrivals(struct td_dump_gate *g, uint64_t round,
				    uint64_t deadline_ms, bool *parked,
				    bool (*give_up)(void *arg), void *arg);

/* Dump side: wake a waiter of td_dump_gate_wait_arrivals to re-check
 * give_up (e.g. the current-thread driver left block_on). */
void td_dump_gate_poke(struct td_dump_gate *g);

/* Dump side: end the round and let every parked worker go. */
void td_dump_gate_release(struct td_dump_gate *g);

#endif /* TD_SCHED_DUMP_GATE_H */
