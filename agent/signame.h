/* signame.h - signal names as TASKDUMP_SIGNAL accepts them.
 *
 * Shared by the agent (which reads TASKDUMP_SIGNAL in the program) and the
 * taskdump tool (which reads it from /proc/PID/environ and must pick the
 * very signal the agent listens to): one source file, compiled into both.
 */
#ifndef TD_AGENT_SIGNAME_H
#define TD_AGENT_SIGNAME_H

#include <stdbool.h>
#include <stddef.h>

/* A signal name (USR1, SIGUSR2, rtmin+3, RTMAX-2, hup; any case) or number
 * to its number; -1 when it is none of them, or a signal that cannot be
 * caught or reports faults (KILL, STOP, SEGV, BUS, FPE, ILL, TRAP, ABRT,
 * SYS). */
int td_signame_parse(const char *s);

/* Strict decimal, as TASKDUMP_* numbers are read: digits only (no sign,
 * no space), at most `max`.  True and *out set when it is one. */
bool td_parse_decimal(const char *s, unsigned long max, unsigned long *out);

/* "SIGUSR1", "SIGRTMIN+3" or "signal N" into buf. */
void td_signame_format(int sig, char *buf, size_t size);

#endif /* TD_AGENT_SIGNAME_H */
