/* target.h - asking a live process for a dump.
 *
 * The agent (libtaskdump_agent.so, preloaded) writes a dump when its
 * signal arrives, atomically (a temporary file, then rename) as
 * <dir>/taskdump-<pid>-<seq>.txt or .json, seq counting from 1 and never
 * reused in a process.  So a dump is requested by noting the highest seq
 * present, sending the signal, and waiting for a higher one to appear.
 * The signal is only sent once the process is known to catch it: the
 * default action of SIGUSR1 would kill it. */
#ifndef TDC_TARGET_H
#define TDC_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct tdc_target {
	pid_t pid;
	unsigned long long start; /* guards against a reused pid */
	int sig;                  /* TASKDUMP_SIGNAL, or SIGUSR1 */
	char *dir;                /* TASKDUMP_DIR, or the process's cwd */
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
 * the file's path in *path (malloc'd), or an exit status after reporting
 * (TDC_EXIT_PROCESS: the process is gone or cannot be signalled;
 * TDC_EXIT_TIMEOUT: no dump appeared, with the likely reason). */
int tdc_target_dump(tdc_target *t, double timeout_ms, char **path);

/* Is the process still there (not a zombie, not a reused pid)? */
bool tdc_target_alive(const tdc_target *t);

void tdc_target_close(tdc_target *t);

#endif /* TDC_TARGET_H */
