/* proc.h - what the tool learns about a live process from /proc, and the
 * agent's signal naming rules. */
#ifndef TDC_PROC_H
#define TDC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A signal as TASKDUMP_SIGNAL spells it, by the agent's rules
 * (agent/config.c): a name with or without "SIG", in any case ("usr2",
 * "SIGUSR2"), "RTMIN+3", or a number.  Returns the signal, or -1 for a
 * value the agent refuses (it then uses SIGUSR1, and so does the tool). */
int tdc_signal_parse(const char *s);

/* "SIGUSR1", "SIGRTMIN+3" or "signal 42". */
void tdc_signal_name(int sig, char *buf, size_t size);

/* State letter (R, S, Z, ...) and start time (clock ticks since boot) of
 * a process.  Returns 0 or -errno (-ENOENT: no such process). */
int tdc_proc_stat(pid_t pid, char *state, unsigned long long *start);

/* Does the process map libtaskdump_agent.so?  1 yes, 0 no, -errno. */
int tdc_proc_has_agent(pid_t pid);

/* Does the process catch `sig` (SigCgt in /proc/PID/status)?  1, 0 or
 * -errno. */
int tdc_proc_catches(pid_t pid, int sig);

/* The value of `name` in the process's initial environment, as a new
 * string; NULL if unset (then *err is 0) or unreadable (*err: -errno). */
char *tdc_proc_getenv(pid_t pid, const char *name, int *err);

/* The process's current working directory, as a new string, or NULL
 * with *err set. */
char *tdc_proc_cwd(pid_t pid, int *err);

/* The credentials the process opens files with. */
typedef struct tdc_creds {
	uid_t ruid, fsuid;
	gid_t fsgid;
	gid_t groups[64];
	int ngroups;
} tdc_creds;

int tdc_proc_creds(pid_t pid, tdc_creds *c);

/* Can a process with these credentials create files in `dir` (mode bits
 * only; root always can)?  1 yes, 0 no, -errno if dir cannot be stat'ed. */
int tdc_dir_writable_by(const char *dir, const tdc_creds *c);

#endif /* TDC_PROC_H */
