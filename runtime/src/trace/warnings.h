/* warnings.h - internal: the task warnings of a dump (README.md, "Task
 * warnings"): lost wake-ups, busy loops, long polls, starved, never
 * polled and long-waiting tasks, each with its evidence.
 *
 * Everything but the busy-loop check reads the finished dump's data only
 * (the counters each entry copied during the pause) and runs after the
 * threads resume.  A busy loop cannot be told from one instant: the tasks
 * that may be in one were noted during the pause (dump_build probes, with
 * a reference each), and td_busy_watch looks at their counters again a
 * moment later, with everything running - a task is in a busy loop only
 * when it was polled again and again in that moment, nearly always after
 * waking itself.
 */
#ifndef TD_TRACE_WARNINGS_H
#define TD_TRACE_WARNINGS_H

#include <stdint.h>

#include "taskdump/dump.h"
#include "trace/dump_build.h"

/* How long the busy-loop probes are watched after the pause. */
#define TD_BUSY_WINDOW_MS 20

/* The thresholds of one dump, defaults filled in. */
struct td_warn_limits {
	uint32_t long_poll_ms, starved_ms, never_polled_ms;
	uint32_t long_wait_ms, long_wait_factor;
	uint32_t busy_polls_per_sec;
};

/* The thresholds `opts` asks for (NULL: all defaults). */
void td_warn_limits_from(const td_dump_options *opts,
			 struct td_warn_limits *out);

/* What a busy-loop probe showed. */
struct td_busy_seen {
	uint64_t task_id, runtime_id;
	uint64_t polls, waits;      /* during the window */
	double window_ms;
};

/* Look at the probes again, at least TD_BUSY_WINDOW_MS after the watched
 * tasks could run again (sleeping the rest, unless this thread runs a
 * runtime's tasks: then it looks at once), and drop their references.
 * Fills out[0..b->nprobes) and returns how many; the probes are gone. */
size_t td_busy_watch(struct dump_build *b, struct td_busy_seen *out);

/* Find the warnings of `d` into d->task_warnings (arena memory).
 * `busy` are the probes' results.  Returns 0 or -ENOMEM. */
int td_dump_find_warnings(td_dump *d, struct td_arena *arena,
			  const struct td_warn_limits *lim,
			  const struct td_busy_seen *busy, size_t nbusy);

#endif /* TD_TRACE_WARNINGS_H */
