/* agent.h - internal interfaces between the agent's modules.
 *
 * libtaskdump_agent.so is loaded with LD_PRELOAD.  At load it reads its
 * settings (config.h), installs its signal handler (signals.c) and starts
 * one agent thread that waits for the signal in sigwaitinfo() (it holds no
 * descriptor between dumps).  A signal wakes the thread,
 * which finds the taskdump runtime the program actually uses (runtime.c),
 * dumps every runtime in it and writes the file (dumpfile.c).
 */
#ifndef TD_AGENT_AGENT_H
#define TD_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "taskdump/dump.h"

/* ---- signals.c ---- */

/* Install the handler for `sig`, taking over whatever action the process
 * had for it as the program's (see signals.c).  Returns 0 or -errno. */
int agent_signals_install(int sig);

/* The agent thread's tid (0: none yet, or none in a forked child). */
void agent_signals_set_thread(pid_t tid);

/* Record a request and pass it on to the agent thread (async-signal-safe;
 * the handler's path). */
void agent_signals_request(void);

/* Take the request the handler recorded, if any; *requested_ns: when its
 * first signal arrived (CLOCK_MONOTONIC). */
bool agent_signals_take_request(int64_t *requested_ns);

/* The program has set SIG_IGN for the dump signal (installed as such). */
bool agent_signals_ignored(void);

/* In a forked child: forget the parent's thread and requests. */
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

/* In a forked child: a dump the parent was writing is not ours (nothing
 * of it is removed, flushed or written by the child). */
void agent_dump_after_fork_child(void);

#endif /* TD_AGENT_AGENT_H */
