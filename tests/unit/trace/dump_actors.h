/* dump_actors.h - tasks that run a little script of lock steps, and
 * checks of what a dump says of them (test_dump_deadlock.c,
 * test_dump_locks.c).
 *
 * An actor runs its steps in order (`loops` + 1 times): lock or unlock a
 * mutex, acquire or release semaphore permits, wait on a notify, join a
 * task, sleep, or bump a counter; so that each situation is a few lines.
 */
#ifndef TD_TEST_DUMP_ACTORS_H
#define TD_TEST_DUMP_ACTORS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/taskdump.h"

enum op_kind { OP_LOCK, OP_UNLOCK, OP_ACQ, OP_REL, OP_WAIT, OP_JOIN,
	       OP_SLEEP, OP_MARK };

struct op {
	enum op_kind k;
	td_mutex *m;
	td_semaphore *s;
	size_t permits;
	td_notify *n;
	td_join_handle *h;
	uint64_t ms;
	atomic_int *ctr;
};

#define LOCK(mx) {.k = OP_LOCK, .m = (mx)}
#define UNLOCK(mx) {.k = OP_UNLOCK, .m = (mx)}
#define ACQ(sm, np) {.k = OP_ACQ, .s = (sm), .permits = (np)}
#define REL(sm, np) {.k = OP_REL, .s = (sm), .permits = (np)}
#define WAIT(nt) {.k = OP_WAIT, .n = (nt)}
#define JOIN(hd) {.k = OP_JOIN, .h = (hd)}
#define SLEEP(t) {.k = OP_SLEEP, .ms = (t)}
#define MARK(c) {.k = OP_MARK, .ctr = (c)}
#define NOPS 12

/* Spawn an actor named `name` running ops[0..n) (copied), `loops` + 1
 * times; `done` (optional) is bumped when it completes.  Returns its id. */
uint64_t spawn_actor(td_runtime *rt, const char *name, const struct op *ops,
		     size_t n, size_t loops, atomic_int *done,
		     td_join_handle *h);

/* The entry of task `id` in any runtime of d, or NULL. */
const td_dump_task *task_of(const td_dump *d, uint64_t id);

/* Task `id` has exactly one edge: to `to` (0: nobody), for `why`. */
void assert_edge(const td_dump *d, uint64_t id, uint64_t to, const char *why);

/* Task `id` holds exactly mutex m, with `waiters` waiting. */
void assert_holds(const td_dump *d, uint64_t id, const td_mutex *m,
		  size_t waiters);

/* "mutex 0x... held" for m, in buf. */
const char *mutex_why(const td_mutex *m, char *buf, size_t size);

/* The deadlock's members are ids[0..n), in this order, each with the
 * edge it has in its task's waits_for. */
void assert_cycle(const td_dump_deadlock *dl, const uint64_t *ids, size_t n);

#endif /* TD_TEST_DUMP_ACTORS_H */
