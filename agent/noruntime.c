/* noruntime.c - the dump of a process that has no taskdump runtime.
 *
 * With no runtime loaded there is no td_dump_write_text/json to call, so
 * the agent writes this one file itself: a valid dump in the format asked
 * for, following the same written rules (README.md, "Dump file formats")
 * as the runtime's writers: the header keys in their order, times with
 * three decimals, `runtimes 0`/`tasks 0` and a `note` saying why; in JSON
 * the compact layout (no spaces) with every top-level key the runtime's
 * writer has.  The program's path is the one value from outside: it is
 * escaped as the formats say (free text in the text header: control bytes
 * and bytes that are not valid UTF-8 as \xHH; in JSON: \" \\ \uXXXX, and
 * U+FFFD for invalid UTF-8), so that a strange file name cannot break the
 * file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

/* Length of the valid UTF-8 sequence at s (2..4), or 0 (s[0] >= 0x80;
 * s is NUL-terminated: every test fails on the NUL). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f; /* no UTF-16 surrogates */
		if (s[1] < lo || s[1] > hi)
			return 0;
		return (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* s as free text of the text format (a header value). */
static void put_free_text(FILE *f, const char *str)
{
	for (const unsigned char *s = (const unsigned char *)str; *s;) {
		size_t n = *s >= 0x80 ? utf8_len(s) : 1;

		if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s < 0x20 || *s == 0x7f || n == 0)
			fprintf(f, "\\x%02x", *s);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
}

/* s as a JSON string literal. */
static void put_json_str(FILE *f, const char *str)
{
	fputc('"', f);
	for (const unsigned char *s = (const unsigned char *)str; *s;) {
		size_t n = *s >= 0x80 ? utf8_len(s) : 1;

		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\u%04x", *s);
		else if (n == 0)
			fputs("\\ufffd", f);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

/* Milliseconds with three decimals, rounded as the dump writers round
 * them (to the nearest microsecond, halves up); "0.000" when not finite. */
const char *agent_ms3(char *buf, size_t size, double ms)
{
	if (!(ms >= 0 && ms < 1e15))
		ms = 0;
	long long us = (long long)(ms * 1000.0 + 0.5);
	snprintf(buf, size, "%lld.%03lld", us / 1000, us % 1000);
	return buf;
}

int agent_write_no_runtime(FILE *f, bool json, double total_ms)
{
	static const char note[] =
		"no taskdump runtime (libtaskdump) is loaded in this process";
	char exe[PATH_MAX], when[80], total[32];
	struct timespec ts;
	struct tm tm;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	if (!exe[0])
		snprintf(exe, sizeof(exe), "?");
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	agent_ms3(total, sizeof(total), total_ms);
	if (json) {
		fprintf(f, "{\"taskdump\":%d,\"pid\":%d,\"program\":",
			TD_DUMP_FORMAT_VERSION, (int)getpid());
		put_json_str(f, exe);
		fprintf(f,
			",\"time\":\"%s\",\"pause_ms\":0.000,"
			"\"capture_ms\":0.000,\"symbolize_ms\":0.000,"
			"\"total_ms\":%s,\"tasks_total\":0,\"note\":",
			when, total);
		put_json_str(f, note);
		fputs(",\"warnings\":[],\n\"deadlocks\":[],\"task_warnings_found\":0,"
		      "\"task_warnings\":[],\n\"runtimes\":[]}\n",
		      f);
	} else {
		fprintf(f, "taskdump %d\npid %d\nprogram ",
			TD_DUMP_FORMAT_VERSION, (int)getpid());
		put_free_text(f, exe);
		fprintf(f,
			"\ntime %s\npause_ms 0.000\ncapture_ms 0.000\n"
			"symbolize_ms 0.000\ntotal_ms %s\nruntimes 0\ntasks 0\n"
			"note %s\n\n",
			when, total, note);
	}
	return ferror(f) ? -EIO : 0;
}
