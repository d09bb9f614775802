/* taskdump/runtime.h - creating, driving and freeing runtimes.
 *
 * A runtime owns a scheduler (current-thread or work-stealing multi-thread),
 * a timer wheel and an epoll I/O driver.
 *
 * Current-thread: tasks run on whichever thread is inside td_runtime_block_on
 *   (one at a time); wake-ups from other threads go through an injection
 *   queue.
 * Multi-thread: `workers` threads, each with a bounded local run queue and a
 *   LIFO slot, sharing a global injection queue; idle workers steal half of
 *   another worker's queue and park when there is nothing to do.
 *
 * Every runtime is listed in a process-wide registry from td_runtime_new to
 * td_runtime_free; dumps (taskdump/dump.h) use it.
 */
#ifndef TASKDUMP_RUNTIME_H
#define TASKDUMP_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"
#include "taskdump/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum td_flavor {
	TD_FLAVOR_CURRENT_THREAD = 0,
	TD_FLAVOR_MULTI_THREAD = 1,
} td_flavor;

/* Runtime settings; zero-initialise and set what you need. */
typedef struct td_runtime_config {
	td_flavor flavor;
	unsigned workers;        /* multi-thread only; 0: the number of CPUs */
	const char *name;        /* copied; NULL: "rt-<id>" */
	unsigned event_interval; /* polls between I/O/timer checks when busy;
				  * 0: 61 */
	unsigned budget;         /* leaf operations a task may complete per
				  * poll before it is made to yield; 0: 128 */
} td_runtime_config;

/* The highest worker count td_runtime_new accepts. */
#define TD_MAX_WORKERS 256

/* Create a runtime.  cfg may be NULL (current-thread).  Returns 0 and
 * stores it in *out, or:
 *   -EINVAL  bad flavor, workers > TD_MAX_WORKERS, or out == NULL
 *   -ENOMEM / -EMFILE / other negative errno  from allocation, epoll,
 *            eventfd or pthread_create. */
TD_API int td_runtime_new(const td_runtime_config *cfg, td_runtime **out);

/* Shut the runtime down and free it: no task is polled again, every
 * remaining task's future is dropped exactly once, workers are joined, the
 * runtime leaves the registry.  Tasks woken afterwards are dropped, not
 * run.  Must not be called from a thread of this runtime (aborts with a
 * message if it is).  NULL is ignored. */
TD_API void td_runtime_free(td_runtime *rt);

/* Poll `future` on the calling thread until it is ready, running the
 * runtime meanwhile (current-thread: this thread runs every task;
 * multi-thread: the workers do).  The future is polled in place, not
 * copied, and is wrapped in a trace root like every task.  On success
 * returns 0 and, if `output` is non-NULL, stores vtable->output's result.
 * Errors: -EINVAL (NULL argument), -EBUSY (called from inside a runtime
 * thread, or a current-thread runtime already being driven), -EDEADLK
 * (called inside td_trace_capture), -ESHUTDOWN. */
TD_API int td_runtime_block_on(td_runtime *rt, td_future *future,
			       void **output);

/* The runtime whose task or worker is running on this thread, or NULL. */
TD_API td_runtime *td_runtime_current(void);

/* The runtime's unique id (monotonic, from 1). */
TD_API uint64_t td_runtime_id(const td_runtime *rt);

/* The runtime's name (never NULL). */
TD_API const char *td_runtime_name(const td_runtime *rt);

/* The runtime's flavor. */
TD_API td_flavor td_runtime_flavor(const td_runtime *rt);

/* Number of worker threads (1 for current-thread). */
TD_API unsigned td_runtime_workers(const td_runtime *rt);

/* Number of live tasks (spawned, not yet finished and released). */
TD_API size_t td_runtime_task_count(const td_runtime *rt);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_RUNTIME_H */
