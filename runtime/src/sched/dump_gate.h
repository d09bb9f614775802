/* dump_gate.h - internal: where workers stop for a dump, or do its work.
 *
 * A dump raises `requested`; every thread that polls tasks checks it at its
 * safe point (between two polls) with one relaxed load, and when it is set
 * calls td_dump_gate_wait().  What happens there depends on the round:
 *
 *  - a stop round (stop-the-world dump): the thread parks until the dump
 *    releases it;
 *  - a slice round (incremental dump of a current-thread runtime): the
 *    thread runs one slice of the dump's work - tracing tasks for at most
 *    the slice time - and goes back to its own polls.  Between two slices
 *    it polls for at least as long as the last slice took, unless it
 *    has nothing else to do (td_dump_gate_slice with `idle`).  Slices never
 *    overlap: the dump thread may run them too (when no thread drives the
 *    runtime), one at a time with the others, under `lock`.
 *
 * Rounds: each dump is one round, numbered.  A thread counts itself as
 * arrived for the round it sees; `arrived_round[i]` says which round worker
 * i last arrived for, so the dump knows exactly who is parked - a late
 * worker that arrives after the deadline is parked too (it must not poll
 * while tasks are traced), but the dump has already reported it as busy.
 * Everything but `requested` and `held_ns` is under `lock`.  Releasing
 * ends the round: no count survives into the next one, so a timed-out wait
 * needs no rollback.
 *
 * Holds: `held_ns[i]` is the longest time worker i was kept from its own
 * polls by the current dump (parked, running a slice, or waiting for a
 * tracing poll of a task it popped: td_hold_note), reset when a dump
 * starts (td_dump_gate_holds_reset).  The dump reports it per worker.
 */
#ifndef TD_SCHED_DUMP_GATE_H
#define TD_SCHED_DUMP_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum td_gate_mode { TD_GATE_STOP, TD_GATE_SLICES };

/* One slice of a dump's work: runs for at most its own time budget and
 * returns true when no work is left. */
typedef bool (*td_gate_slice_fn)(void *arg);

struct td_dump_gate {
	_Atomic int requested;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	uint64_t round;
	bool active;
	enum td_gate_mode mode;
	unsigned arrived;
	unsigned nworkers;
	uint64_t *arrived_round; /* [nworkers] */
	/* Slice rounds. */
	td_gate_slice_fn slice;
	void *slice_arg;
	bool slice_running; /* some thread is in slice() */
	bool slices_done;   /* slice() said so, or the dump took the work
			     * back (td_dump_gate_stop_slices) */
	uint64_t next_slice_ns; /* no slice before (td_gate_now_ns clock) */
	uint64_t slices;    /* run this round */
	uint64_t progress_ns; /* when the last slice ended (or the round
			       * began) */
	_Atomic uint64_t *held_ns; /* [nworkers] */
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

/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
uint64_t td_gate_now_ns(void);

/* A worker (index, or -1 for a thread that is not a worker but must not
 * poll either, e.g. a current-thread driver counted as worker 0) at its
 * safe point: parks until a stop round is released, or runs a slice of a
 * slice round when one is due (the same as td_dump_gate_slice(g, worker,
 * false)). */
void td_dump_gate_wait(struct td_dump_gate *g, int worker);

/* A slice round's work, at a safe point: waits for a slice another thread
 * runs, then runs one if one is due - or, with `idle` (the thread has
 * nothing else to poll), whether due or not.  Returns true when it ran one
 * and work is left (an idle thread should come back at once rather than
 * sleep).  Outside a slice round: td_dump_gate_wait, returns false. */
bool td_dump_gate_slice(struct td_dump_gate *g, int worker, bool idle);

/* Dump side: start a stop round; `self` is the index of the calling
 * worker (which counts as arrived) or -1.  Returns the round number. */
uint64_t td_dump_gate_open(struct td_dump_gate *g, int self);

/* Dump side: start a slice round: `fn(arg)` is run by whichever thread
 * comes to a safe point until it returns true. */
uint64_t td_dump_gate_open_slices(struct td_dump_gate *g, td_gate_slice_fn fn,
				  void *arg);

/* Dump side of a slice round: wait until the slices are done, or until no
 * slice has ended for `first_ms` (before the first slice) or `stall_ms`
 * (after one) although work is left: the driving thread is stuck in a
 * poll.  While `run_here(arg)` is true (nobody drives the runtime) the
 * calling thread runs the slices itself.  Returns true when all work was
 * done; false when the dump must take the rest back
 * (td_dump_gate_stop_slices). */
bool td_dump_gate_wait_slices(struct td_dump_gate *g, unsigned first_ms,
			      unsigned stall_ms, bool (*run_here)(void *arg),
			      void *arg);

/* Dump side: no more slices; returns once none runs. */
void td_dump_gate_stop_slices(struct td_dump_gate *g);

/* Dump side: wait until every worker has arrived or `deadline_ms`
 * (td_now_ms clock) passes, or `give_up(arg)` returns true (checked at
 * each wake-up; may be NULL).  Fills parked[i] for each worker.  Returns
 * the number arrived. */
unsigned td_dump_gate_wait_arrivals(struct td_dump_gate *g, uint64_t round,
				    uint64_t deadline_ms, bool *parked,
				    bool (*give_up)(void *arg), void *arg);

/* Dump side: wake a waiter of td_dump_gate_wait_arrivals (or of
 * td_dump_gate_wait_slices) to re-check give_up (e.g. the current-thread
 * driver left block_on). */
void td_dump_gate_poke(struct td_dump_gate *g);

/* Dump side: end the round and let every parked worker go. */
void td_dump_gate_release(struct td_dump_gate *g);

/* Dump side: forget the holds of the previous dump. */
void td_dump_gate_holds_reset(struct td_dump_gate *g);

/* Dump side: the longest hold of worker i in this dump, in ns. */
uint64_t td_dump_gate_held_ns(struct td_dump_gate *g, unsigned i);

/* Where this thread's holds are noted: &held_ns[i] of the runtime whose
 * worker i it is (set while it polls that runtime's tasks), else NULL. */
extern __thread _Atomic uint64_t *td_tls_hold_ns
	__attribute__((tls_model("initial-exec")));

/* Note that this thread was held `ns` by a dump (keeps the longest). */
void td_hold_note(uint64_t ns);

#endif /* TD_SCHED_DUMP_GATE_H */
