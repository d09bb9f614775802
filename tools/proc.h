/* proc.h - what the tool learns about a live process from /proc, and the
 * agent's signal naming rules.
 *
 * Every reader takes a descriptor of the process's /proc/PID directory
 * (tdc_proc_open) instead of a pid: once the process is gone, reads through
 * it fail (ESRCH or ENOENT) rather than reading a later process that got
 * the same pid.  What these files contain is the target's to choose (its
 * environment, its thread names, the file names it maps): every reader is
 * bounded in size and parses defensively. */
#ifndef TDC_PROC_H
#define TDC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A signal as TASKDUMP_SIGNAL spells it, by the agent's rules
 * (agent/config.c): a name with or without "SIG", in any case ("usr2",
 * "SIGUSR2"), "RTMIN+3", or a number.  Returns the signal, or -1 for a
 * value the agent refuses (it then uses SIGUSR1, and so does the tool). */
int tdc_signal_parse(const char *s);

/* "SIGUSR1", "SIGRTMIN+3" or "signal 42". */
void tdc_signal_name(int sig, char *buf, size_t size);

/* Open /proc/PID (O_PATH, close-on-exec).  Returns the descriptor or
 * -errno (-ENOENT: no such process). */
int tdc_proc_open(pid_t pid);

/* State letter (R, S, Z, ...) and start time (clock ticks since boot) of
 * the process.  Returns 0 or -errno (-ENOENT, -ESRCH: it is gone). */
int tdc_proc_stat(int procfd, char *state, unsigned long long *start);

/* Does the process map libtaskdump_agent.so?  1 yes, 0 no, -errno. */
int tdc_proc_has_agent(int procfd);

/* Does the process catch `sig` (SigCgt in /proc/PID/status)?  1, 0 or
 * -errno. */
int tdc_proc_catches(int procfd, int sig);

/* The thread that takes the agent's requests: the first thread named
 * "taskdump-agent" (the agent names its thread so; it waits for the dump
 * signal in sigwaitinfo(), or takes it through a handler).  Returns its
 * tid, 0 if there is none (yet), or -errno. */
pid_t tdc_proc_agent_thread(int procfd);

/* The value of `name` in the process's initial environment, as a new
 * string; NULL if unset (then *err is 0) or unreadable (*err: -errno). */
char *tdc_proc_getenv(int procfd, const char *name, int *err);

/* The path of the current working directory of the process (tid 0) or of
 * its thread `tid` (for messages: open "cwd" under procfd to reach the
 * directory itself), as a new string, or NULL with *err set. */
char *tdc_proc_cwd(int procfd, pid_t tid, int *err);

/* The credentials the process opens files with. */
typedef struct tdc_creds {
	uid_t ruid, fsuid;
	gid_t fsgid;
	gid_t *groups; /* supplementary groups (malloc'd) */
	size_t ngroups;
} tdc_creds;

/* Read them; free with tdc_creds_free.  Returns 0 or -errno. */
int tdc_proc_creds(int procfd, tdc_creds *c);

void tdc_creds_free(tdc_creds *c);

/* Can a process with these credentials create files in the directory `st`
 * describes (mode bits only; root always can)?  1 yes, 0 no. */
int tdc_dir_writable_by(const struct stat *st, const tdc_creds *c);

#endif /* TDC_PROC_H */
