/* agent.h - internal interfaces between the agent's modules.
 *
 * libtaskdump_agent.so is loaded with LD_PRELOAD.  At load it reads its
 * settings (config.h), installs its signal handler (signals.c) and starts
 * one agent thread that sleeps on an eventfd.  A signal wakes the thread,
 * which finds the taskdump runtime the program actually uses (runtime.c),
 * dumps every runtime in it and writes the file (dumpfile.c).
 */
#ifndef TD_AGENT_AGENT_H
#define TD_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "taskdump/dump.h"

/* ---- signals.c ---- */

/* Install the handler for `sig`; it wakes the agent through eventfd `fd`.
 * Returns 0 or -errno. */
int agent_signals_install(int sig, int fd);

/* Point the handler at a new eventfd (after fork). */
void agent_signals_set_fd(int fd);

/* Take the pending request, if any; *requested_ns: when the first signal
 * of the request arrived (CLOCK_MONOTONIC). */
bool agent_signals_take_request(int64_t *requested_ns);

/* Forget requests inherited from the parent. */
void agent_signals_reset_after_fork(void);

/* ---- runtime.c ---- */

/* The runtime's dump API as found in the process, or all NULL. */
struct agent_runtime_api {
	int (*dump_all)(const td_dump_options *opts, td_dump **out);
	int (*write_text)(const td_dump *d, FILE *f,
			  const td_write_options *opts);
	int (*write_json)(const td_dump *d, FILE *f);
	void (*free_dump)(td_dump *d);
};

/* Look for a loaded taskdump runtime (never loads one).  Returns true and
 * fills *api when found. */
bool agent_find_runtime(struct agent_runtime_api *api);

/* ---- noruntime.c ---- */

/* Write the dump of a process without a taskdump runtime (text, or JSON
 * with `json`) whose request came total_ms ago.  Returns 0 or -EIO. */
int agent_write_no_runtime(FILE *f, bool json, double total_ms);

/* ms with three decimals into buf, rounded as the dump writers round
 * (so that the stderr line and the file agree); returns buf. */
const char *agent_ms3(char *buf, size_t size, double ms);

/* ---- dumpfile.c ---- */

/* Take one dump and write it; reports on stderr.  `requested_ns` is when
 * the signal arrived; `seq` the process's next sequence number. */
void agent_dump_to_file(const struct agent_config *cfg, int64_t requested_ns,
			unsigned *seq);

/* The process is exiting: remove the temporary file of a dump still being
 * written, and write no more (later failures are not reported). */
void agent_dump_abandon(void);

#endif /* TD_AGENT_AGENT_H */
