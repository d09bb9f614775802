/* sched.h - internal: what tasks need from the scheduler that owns them.
 *
 * struct td_runtime (sched/runtime_impl.h) starts with a td_sched, so a
 * task's `sched` pointer is its runtime.  The flavor-specific parts are
 * reached through `ops`.
 */
#ifndef TD_SCHED_SCHED_H
#define TD_SCHED_SCHED_H

#include <stdbool.h>

struct td_task;
struct td_sched;

struct td_sched_ops {
	/* Queue a Notified reference of `t` (takes it).  `from_own_poll` is
	 * true when the task was woken during its own poll (a yield): it
	 * should run after the tasks already queued. */
	void (*schedule)(struct td_sched *s, struct td_task *t,
			 bool from_own_poll);
};

struct td_sched {
	const struct td_sched_ops *ops;
};

/* Remove a completed task from its runtime's owned list; returns true when
 * it was listed (the list's reference is then the caller's to drop). */
bool td_sched_release(struct td_sched *s, struct td_task *t);

/* The task's runtime lost a task: drop the task's runtime reference. */
void td_sched_task_freed(struct td_sched *s);

#endif /* TD_SCHED_SCHED_H */
