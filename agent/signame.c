/* signame.c - signal names as TASKDUMP_SIGNAL accepts them (signame.h). */
#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "signame.h"

/* Signals a handler can catch and the program is unlikely to need. */
static const struct {
	const char *name;
	int sig;
} names[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},
	{"USR1", SIGUSR1}, {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},
	{"ALRM", SIGALRM}, {"TERM", SIGTERM},     {"CHLD", SIGCHLD},
	{"CONT", SIGCONT}, {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"URG", SIGURG},       {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	{"WINCH", SIGWINCH}, {"IO", SIGIO},       {"PWR", SIGPWR},
};

/* Uncatchable, or raised by faults: refused even by number. */
static bool refused(int sig)
{
	switch (sig) {
	case SIGKILL:
	case SIGSTOP:
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGTRAP:
	case SIGABRT:
	case SIGSYS:
		return true;
	default:
		return false;
	}
}

bool td_parse_decimal(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n", within the real-time range. */
static int parse_rt(const char *s)
{
	bool min = strncasecmp(s, "RTMIN", 5) == 0;
	unsigned long off = 0;
	if (!min && strncasecmp(s, "RTMAX", 5) != 0)
		return -1;
	s += 5;
	if (*s && ((min && *s != '+') || (!min && *s != '-') ||
		   !td_parse_decimal(s + 1, 64, &off)))
		return -1;
	long sig = min ? (long)SIGRTMIN + (long)off : (long)SIGRTMAX - (long)off;
	return sig >= SIGRTMIN && sig <= SIGRTMAX ? (int)sig : -1;
}

int td_signame_parse(const char *s)
{
	unsigned long n;
	if (!s)
		return -1;
	if (td_parse_decimal(s, 1000, &n))
		return n >= 1 && (long)n <= SIGRTMAX && !refused((int)n)
			       ? (int)n
			       : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].sig;
	return parse_rt(s);
}

void td_signame_format(int sig, char *buf, size_t size)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].sig == sig) {
			snprintf(buf, size, "SIG%s", names[i].name);
			return;
		}
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, size, "signal %d", sig);
}
