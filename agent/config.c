/* config.c - the agent's settings (see config.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "taskdump/dump.h"
#include "signame.h"

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

/* A threshold: 1..4000000000, else the default (with one line). */
static unsigned threshold(const char *var, unsigned def)
{
	const char *v = getenv(var);
	unsigned long n;
	char shown[16];

	if (!v)
		return def;
	if (td_parse_decimal(v, 4000000000ul, &n) && n >= 1)
		return (unsigned)n;
	snprintf(shown, sizeof(shown), "%u", def);
	bad(var, v, "expected a whole number from 1 to 4000000000", shown);
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
		int sig = td_signame_parse(v);
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
		if (td_parse_decimal(v, 600000, &ms) && ms >= 1)
			cfg->timeout_ms = (unsigned)ms;
		else
			bad("TASKDUMP_TIMEOUT_MS", v,
			    "expected milliseconds from 1 to 600000", "1000");
	}

	v = getenv("TASKDUMP_GRACE_MS");
	cfg->grace_ms = TD_DUMP_DEFAULT_GRACE_MS;
	if (v) {
		unsigned long ms;
		if (td_parse_decimal(v, 600000, &ms) && ms >= 1)
			cfg->grace_ms = (unsigned)ms;
		else
			bad("TASKDUMP_GRACE_MS", v,
			    "expected milliseconds from 1 to 600000", "10");
	}
	if (cfg->grace_ms > cfg->timeout_ms)
		cfg->grace_ms = cfg->timeout_ms;

	v = getenv("TASKDUMP_MODE");
	if (v) {
		if (strcasecmp(v, "stop") == 0)
			cfg->stop_mode = true;
		else if (strcasecmp(v, "incremental") != 0)
			bad("TASKDUMP_MODE", v, "expected incremental or stop",
			    "incremental");
	}

	v = getenv("TASKDUMP_SLICE_US");
	cfg->slice_us = TD_DUMP_DEFAULT_SLICE_US;
	if (v) {
		unsigned long us;
		if (td_parse_decimal(v, 1000000, &us) && us >= 50)
			cfg->slice_us = (unsigned)us;
		else
			bad("TASKDUMP_SLICE_US", v,
			    "expected microseconds from 50 to 1000000",
			    "1000");
	}

	cfg->long_poll_ms = threshold("TASKDUMP_LONG_POLL_MS",
				      TD_DUMP_DEFAULT_LONG_POLL_MS);
	cfg->starved_ms = threshold("TASKDUMP_STARVED_MS",
				    TD_DUMP_DEFAULT_STARVED_MS);
	cfg->never_polled_ms = threshold("TASKDUMP_NEVER_POLLED_MS",
					 TD_DUMP_DEFAULT_NEVER_POLLED_MS);
	cfg->long_wait_ms = threshold("TASKDUMP_LONG_WAIT_MS",
				      TD_DUMP_DEFAULT_LONG_WAIT_MS);
	cfg->long_wait_factor = threshold("TASKDUMP_LONG_WAIT_FACTOR",
					  TD_DUMP_DEFAULT_LONG_WAIT_FACTOR);
	cfg->busy_polls_per_sec = threshold(
		"TASKDUMP_BUSY_POLLS_PER_SEC",
		TD_DUMP_DEFAULT_BUSY_POLLS_PER_SEC);

	cfg->group = parse_bool("TASKDUMP_GROUP", getenv("TASKDUMP_GROUP"),
				false);
	cfg->quiet = parse_bool("TASKDUMP_QUIET", getenv("TASKDUMP_QUIET"),
				false);
}
