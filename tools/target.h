/* target.h - asking a live process for a dump.
 *
 * The agent (libtaskdump_agent.so, preloaded) writes a dump when its
 * signal arrives, atomically (a temporary file, then rename) as
 * <dir>/taskdump-<pid>-<seq>.txt or .json, seq counting from 1 and never
 * reused in a process.  So a dump is requested by noting the highest seq
 * present, sending the signal, and waiting for a higher one to appear.
 * The signal is only sent once the process is known to catch it: the
 * default action of SIGUSR1 would kill it.  It goes to the agent's own
 * thread when there is one that accepts it (tgkill), so that no thread of
 * the program is interrupted; to the process otherwise (an older agent).
 *
 * Nothing the process controls is trusted: /proc is read through one
 * descriptor of /proc/PID (a reused pid is never read), the dump directory
 * and the file are opened as dumpdir.h describes. */
#ifndef TDC_TARGET_H
#define TDC_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#include "dumpdir.h"

typedef struct tdc_target {
	pid_t pid;
	int procfd;               /* /proc/PID, or -1 */
	unsigned long long start; /* guards against a reused pid */
	int sig;                  /* TASKDUMP_SIGNAL, or SIGUSR1 */
	char *dir_env;            /* TASKDUMP_DIR (NULL: unset) */
	char *dir;                /* the directory's path, for messages */
	bool ready;               /* agent mapped, settings read */
} tdc_target;

/* Check that `pid` exists and may be signalled (kill(pid, 0)).  Returns 0
 * or an exit status after reporting the error. */
int tdc_target_open(tdc_target *t, pid_t pid);

/* Check that the agent is loaded, and read its settings from the
 * process's environment.  With `wait`, poll until the agent shows up
 * (a just-started program) or timeout_ms passes.  Returns 0 or an exit
 * status after reporting. */
int tdc_target_agent(tdc_target *t, bool wait, double timeout_ms);

/* Request one dump and wait up to timeout_ms for its file.  Returns 0 and
 * the file, open and checked, in *f (tdc_dumpfile_close it), or an exit
 * status after reporting (TDC_EXIT_PROCESS: the process is gone, cannot be
 * signalled, or its directory cannot be opened; TDC_EXIT_TIMEOUT: no dump
 * appeared, with the likely reason; TDC_EXIT_INPUT: what appeared is not a
 * file the agent writes). */
int tdc_target_dump(tdc_target *t, double timeout_ms, tdc_dumpfile *f);

/* Is the process still there (not a zombie, not a reused pid)? */
bool tdc_target_alive(const tdc_target *t);

void tdc_target_close(tdc_target *t);

#endif /* TDC_TARGET_H */
