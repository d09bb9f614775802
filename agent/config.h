/* config.h - the agent's settings, from TASKDUMP_* environment variables.
 *
 *   TASKDUMP_DIR         where dump files go (default: the working
 *                        directory at the time of the dump; a relative
 *                        path is relative to the working directory the
 *                        program had when the agent was loaded)
 *   TASKDUMP_SIGNAL      the signal that asks for a dump: a name (USR1,
 *                        SIGUSR2, rtmin+3, case-insensitive) or a number
 *                        (default SIGUSR1)
 *   TASKDUMP_FORMAT      text | json (default text)
 *   TASKDUMP_TIMEOUT_MS  the bound of the whole dump: how long it waits
 *                        for tasks that are being polled, 1..600000
 *                        (default 1000)
 *   TASKDUMP_GRACE_MS    how long workers get to reach a safe point
 *                        before those that have not are reported busy,
 *                        1..600000, at most the timeout (default 10)
 *   TASKDUMP_MODE        incremental | stop (default incremental):
 *                        whether the threads keep running during the
 *                        dump or stop for all of it (taskdump/dump.h)
 *   TASKDUMP_SLICE_US    an incremental dump's slice: the longest a
 *                        current-thread runtime's thread traces at one
 *                        safe point, 50..1000000 (default 1000)
 *   TASKDUMP_LONG_POLL_MS, TASKDUMP_STARVED_MS, TASKDUMP_NEVER_POLLED_MS,
 *   TASKDUMP_LONG_WAIT_MS, TASKDUMP_LONG_WAIT_FACTOR,
 *   TASKDUMP_BUSY_POLLS_PER_SEC
 *                        the task warnings' thresholds (README.md, "Task
 *                        warnings"), 1..4000000000 each (defaults: the
 *                        TD_DUMP_DEFAULT_* of taskdump/dump.h)
 *   TASKDUMP_GROUP       1: group tasks with identical traces in text
 *                        dumps (default 0)
 *   TASKDUMP_QUIET       1: no stderr line per dump (errors still shown)
 *
 * A bad value gets one line on stderr and the default.
 */
#ifndef TD_AGENT_CONFIG_H
#define TD_AGENT_CONFIG_H

#include <stdbool.h>

struct agent_config {
	char dir[4096];     /* empty: the working directory */
	int signal;
	bool json;
	unsigned timeout_ms;
	unsigned grace_ms;
	bool stop_mode;     /* TASKDUMP_MODE=stop */
	unsigned slice_us;
	/* Task warning thresholds, in td_dump_options' fields. */
	unsigned long_poll_ms, starved_ms, never_polled_ms;
	unsigned long_wait_ms, long_wait_factor, busy_polls_per_sec;
	bool group;
	bool quiet;
};

/* Read the environment into *cfg (defaults for what is unset or bad). */
void agent_config_load(struct agent_config *cfg);

#endif /* TD_AGENT_CONFIG_H */
