/* taskdump/task.h - spawning tasks and joining them.
 *
 * A task is a future that a runtime polls on its own.  td_spawn copies the
 * future into the task's single allocation (so the caller's copy must not be
 * used or dropped afterwards) and returns a join handle.  Every task has a
 * unique 64-bit id (monotonic, never reused in a process), an optional name
 * and the source location of the td_spawn call that created it.
 *
 * A join handle is awaited through a td_join future, which takes the
 * handle's reference; a handle that is not awaited must be detached (the
 * task keeps running) or aborted.
 */
#ifndef TASKDUMP_TASK_H
#define TASKDUMP_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_runtime td_runtime;
typedef struct td_task td_task;

/* Where a task was spawned; recorded by the td_spawn macros. */
typedef struct td_spawn_site {
	const char *file;
	const char *function;
	int line;
} td_spawn_site;

/* Ownership of a task's result.  Empty (task == NULL) after a failed spawn,
 * after td_join_init took it, or after detach. */
typedef struct td_join_handle {
	td_task *task;
} td_join_handle;

/* Options for td_spawn_with. */
typedef struct td_spawn_options {
	const char *name;            /* copied; NULL for none */
	const td_spawn_site *site;   /* NULL: unknown */
} td_spawn_options;

/* Spawn `future` (a struct of `size` bytes starting with a td_future) on
 * `rt`, or on the runtime of the calling thread when rt is NULL.  The bytes
 * are copied into the new task; the caller's copy becomes dead.  On success
 * returns 0 and, when `out` is non-NULL, stores the join handle in *out
 * (when `out` is NULL the task is detached).  Errors (nothing is spawned and
 * the future is dropped):
 *   -EINVAL    future or its vtable/poll is NULL, or size < sizeof(td_future)
 *   -ESRCH     rt is NULL and the calling thread is in no runtime
 *   -ESHUTDOWN the runtime is shutting down
 *   -ENOMEM    out of memory */
TD_API int td_spawn_with(td_runtime *rt, td_future *future, size_t size,
			 const td_spawn_options *opts, td_join_handle *out);

#define TD__SPAWN_SITE(var)                                                   \
	static const td_spawn_site var = {__FILE__, __func__, __LINE__}

/* td_spawn(rt, &fut, &handle): spawn, recording this source location. */
#define td_spawn(rt, fut, out)                                                \
	__extension__({                                                       \
		TD__SPAWN_SITE(td__site);                                     \
		td_spawn_options td__o = {NULL, &td__site};                   \
		td_spawn_with((rt), (td_future *)(fut), sizeof(*(fut)),       \
			      &td__o, (out));                                 \
	})

/* td_spawn_named(rt, "name", &fut, &handle): as td_spawn, with a name. */
#define td_spawn_named(rt, name, fut, out)                                    \
	__extension__({                                                       \
		TD__SPAWN_SITE(td__site);                                     \
		td_spawn_options td__o = {(name), &td__site};                 \
		td_spawn_with((rt), (td_future *)(fut), sizeof(*(fut)),       \
			      &td__o, (out));                                 \
	})

/* The id of the handle's task, or 0 for an empty handle. */
TD_API uint64_t td_join_handle_id(const td_join_handle *h);

/* True when the handle's task has finished (completed or aborted). */
TD_API bool td_join_handle_is_finished(const td_join_handle *h);

/* Ask the task to stop: it is dropped instead of polled again (at once if
 * it is idle, after its current poll if it is running).  Awaiting the handle
 * afterwards reports -ECANCELED unless the task had already completed.
 * Harmless on an empty or finished handle. */
TD_API void td_join_handle_abort(const td_join_handle *h);

/* Give up the handle: the task runs on, its result is discarded. */
TD_API void td_join_handle_detach(td_join_handle *h);

/* A future that waits for a task to finish. */
typedef struct td_join {
	td_future base;
	td_task *task;
	void *output;   /* after TD_READY: the task's result (vtable->output) */
	int error;      /* after TD_READY: 0, -ECANCELED (aborted or dropped
			 * at shutdown) or -EINVAL (empty handle) */
} td_join;

/* Prepare `j` to await the task of `h`, taking the handle (h becomes
 * empty).  Returns 0, or -EINVAL for an empty handle (already joined,
 * detached or a failed spawn): the future then completes at once with
 * error -EINVAL. */
TD_API int td_join_init(td_join *j, td_join_handle *h);

/* The id of the task being polled on this thread, or 0 outside tasks. */
TD_API uint64_t td_task_current_id(void);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_TASK_H */
