/* config.c - the agent's settings (see config.h). */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},
	{"USR1", SIGUSR1}, {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},
	{"ALRM", SIGALRM}, {"TERM", SIGTERM},     {"CHLD", SIGCHLD},
	{"CONT", SIGCONT}, {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"URG", SIGURG},       {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	{"WINCH", SIGWINCH}, {"IO", SIGIO},       {"PWR", SIGPWR},
};

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

/* Strict decimal: digits only, no sign, no overflow. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	if (!s || !*s)
		return false;
	unsigned long v = 0;
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

int agent_parse_signal(const char *s)
{
	unsigned long n;
	if (!s)
		return -1;
	if (parse_uint(s, 1000, &n))
		return n >= 1 && (int)n <= SIGRTMAX && !refused((int)n)
			       ? (int)n
			       : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]);
	     i++)
		if (strcasecmp(s, signal_names[i].name) == 0)
			return signal_names[i].sig;
	/* RTMIN, RTMIN+n, RTMAX, RTMAX-n */
	int base, sign;
	const char *rest;
	if (strncasecmp(s, "RTMIN", 5) == 0) {
		base = SIGRTMIN;
		sign = 1;
		rest = s + 5;
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		base = SIGRTMAX;
		sign = -1;
		rest = s + 5;
	} else {
		return -1;
	}
	if (!*rest)
		return base;
	if ((*rest != '+' && *rest != '-') || (*rest == '+') != (sign > 0) ||
	    !parse_uint(rest + 1, 64, &n))
		return -1;
	int sig = base + sign * (int)n;
	return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
}

/* One line on stderr per bad value.  The value is shown with control
 * bytes (a newline, ...), '"', '\\' and bytes >= 0x80 written as \xHH, and
 * cut at 200 bytes, so that the complaint stays one readable line whatever
 * the environment holds.  (Fix: the raw value used to be printed, and a
 * value with a newline split the line.) */
static void bad(const char *var, const char *value, const char *why,
		const char *fallback)
{
	char shown[200 * 4 + 1];
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)value;
	     *p && p - (const unsigned char *)value < 200; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			n += (size_t)snprintf(shown + n, sizeof(shown) - n,
					      "\\x%02x", *p);
		else
			shown[n++] = (char)*p;
	}
	shown[n] = '\0';
	fprintf(stderr, "taskdump: ignoring %s=\"%s%s\": %s; using %s\n", var,
		shown, strlen(value) > 200 ? "..." : "", why, fallback);
}

static bool parse_bool(const char *var, const char *v, bool def)
{
	if (!v)
		return def;
	if (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "true") == 0)
		return true;
	if (strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
	    strcasecmp(v, "false") == 0 || *v == '\0')
		return false;
	bad(var, v, "expected 0 or 1", def ? "1" : "0");
	return def;
}

void agent_config_load(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->signal = SIGUSR1;
	cfg->timeout_ms = 1000;

	const char *v = getenv("TASKDUMP_DIR");
	if (v && *v) {
		if (strlen(v) >= sizeof(cfg->dir))
			bad("TASKDUMP_DIR", v, "path too long",
			    "the working directory");
		else
			strcpy(cfg->dir, v);
	}

	v = getenv("TASKDUMP_SIGNAL");
	if (v) {
		int sig = agent_parse_signal(v);
		if (sig < 0)
			bad("TASKDUMP_SIGNAL", v,
			    "not a signal name or number that can be caught",
			    "SIGUSR1");
		else
			cfg->signal = sig;
	}

	v = getenv("TASKDUMP_FORMAT");
	if (v) {
		if (strcasecmp(v, "json") == 0)
			cfg->json = true;
		else if (strcasecmp(v, "text") != 0)
			bad("TASKDUMP_FORMAT", v, "expected text or json",
			    "text");
	}

	v = getenv("TASKDUMP_TIMEOUT_MS");
	if (v) {
		unsigned long ms;
		if (parse_uint(v, 600000, &ms) && ms >= 1)
			cfg->timeout_ms = (unsigned)ms;
		else
			bad("TASKDUMP_TIMEOUT_MS", v,
			    "expected milliseconds from 1 to 600000", "1000");
	}

	cfg->group = parse_bool("TASKDUMP_GROUP", getenv("TASKDUMP_GROUP"),
				false);
	cfg->quiet = parse_bool("TASKDUMP_QUIET", getenv("TASKDUMP_QUIET"),
				false);
}
