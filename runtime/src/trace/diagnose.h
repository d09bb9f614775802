/* diagnose.h - internal: what a finished dump says is wrong.
 *
 * Analysis of a dump's data only (no task memory, no runtime lock): run
 * after the threads resume, never during the pause.  It fills in
 *
 *  - every task's wait-for edges (td_dump_task.waits_for), from the waits
 *    its leaves recorded: mutex -> its holder, join -> the joined task,
 *    a receive with no sender left -> nobody;
 *  - the locks each task holds (td_dump_task.holds): the mutexes and
 *    semaphore permits the registries of locks showed held by a task
 *    during the pause (sync/lockreg.h), and those the waits on them show
 *    (a mutex handed to a waiter): holder, when taken, how many wait;
 *  - semaphore -> holder edges, when every permit out is attributed to
 *    a task (a semaphore whose permits others hold gives no edge);
 *  - the deadlocks (td_dump.deadlocks): the cycles of tasks none of which
 *    can go on unless the next one acts.
 *
 * No false positives: a task is a deadlock candidate only when it is idle
 * and every one of its leaves waits for a task of the dump; a task with
 * any other leaf (a sleep, I/O, a notify, ...) may still run and release
 * what it holds.  A candidate stays one only while every task it waits for
 * is one too (a task that waits for several, as in a join_all, goes on
 * when any of them does); the cycles among what remains are reported.
 */
#ifndef TD_TRACE_DIAGNOSE_H
#define TD_TRACE_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/dump.h"
#include "sync/lockreg.h"
#include "trace/arena.h"

/* A held lock seen by the registries' walk during the pause of `rt`:
 * true of rt's tasks (they were paused), not necessarily of others'. */
struct td_held_note {
	struct td_held_fact f;
	const td_dump_runtime *rt;
};

/* True when a wait may give an edge (a mutex, a semaphore, a join, a
 * receive with no sender left): the entries with such a wait are all
 * the diagnosis needs to look at. */
bool td_wait_may_edge(const td_wait *w);

/* Diagnose `d` (whose tasks' traces are complete), allocating the results
 * in `arena` (the dump's).  tasks[0..ntasks) are the entries with a wait
 * that may give an edge, each once; held[0..nheld) what the registries
 * of locks showed.  `now_ms` is the task clock (task/core.h) at the
 * capture, for how long locks have been held.  Returns 0 or -ENOMEM
 * (what was found so far stays valid). */
int td_dump_diagnose(td_dump *d, struct td_arena *arena, uint64_t now_ms,
		     td_dump_task *const *tasks, size_t ntasks,
		     const struct td_held_note *held, size_t nheld);

#endif /* TD_TRACE_DIAGNOSE_H */
