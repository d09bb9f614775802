/* bench_tool.c - taskdump-toolbench: how long each verb of the `taskdump`
 * tool takes on a dump file, and how much memory it needs.
 *
 *   taskdump-toolbench [--label L] [--timeout S] TASKDUMP DUMP...
 *
 * For every DUMP (text or JSON, as the tool detects) every verb runs once
 * as a child process, its output thrown away; the child's wall time and
 * peak resident set (getrusage's ru_maxrss, via wait4) are one line each:
 *
 *   RESULT impl=taskdump workload=tool label=<L> verb=<v> format=<f> n=<tasks> bytes=<file size> wall_ms=<ms> peak_rss_kib=<KiB> rss_per_byte=<peak/bytes> status=<exit status, or "timeout", "signal N">
 *
 * A run that exceeds the timeout (default 300 s) is killed.  n is the
 * task count of the dump's header ("tasks N" or "tasks_total":N).
 * `diff` compares DUMP with a later dump of the same process,
 * <stem>-later<ext> next to it (bench/tool_scale.sh makes both); without
 * one, with a copy of DUMP (the tool refuses one file given twice).
 * bench/tool_scale.sh makes the dumps and runs this for two builds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* The verbs measured: a name and the arguments before the file(s); a
 * verb whose name starts with "diff" gets the file and a later one. */
static const struct verb {
	const char *name;
	const char *args[4];
} verbs[] = {
	{"show", {"show", NULL}},
	{"show_no_group", {"show", "--no-group", NULL}},
	{"show_json", {"show", "--format", "json", NULL}},
	{"summary", {"show", "--summary", NULL}},
	{"fold", {"fold", NULL}},
	{"fold_wait", {"fold", "--wait", NULL}},
	{"diff", {"diff", NULL}},
	{"filter_task", {"show", "--task", "5", NULL}},
	{"filter_name", {"show", "--name", "b*", NULL}},
	{"filter_state", {"show", "--state", "idle", NULL}},
	{"filter_grep", {"show", "--grep", "level[23]", NULL}},
	{"filter_min_idle", {"show", "--min-idle", "1ms", NULL}},
	{"filter_deadlocks", {"show", "--deadlocks", NULL}},
	{"filter_warnings", {"show", "--warnings", NULL}},
	{"compact", {"show", "--compact", NULL}},
};

/* The header's task count and the format, from the file's first bytes. */
static void peek_dump(const char *path, unsigned long long *n,
		      const char **format)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t got = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	const char *p;

	if (f)
		fclose(f);
	buf[got] = '\0';
	*n = 0;
	*format = buf[0] == '{' ? "json" : "text";
	if ((p = strstr(buf, "\ntasks ")))
		*n = strtoull(p + 7, NULL, 10);
	else if ((p = strstr(buf, "\"tasks_total\":")))
		*n = strtoull(p + 14, NULL, 10);
}

/* Copy the file at `from` to `to`.  Returns 0 or -1. */
static int copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY), out;
	ssize_t n = 0;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	return close(out) != 0 || n < 0 ? -1 : 0;
}

/* The dump `diff` compares `path` with: <stem>-later<ext> if there is
 * one, else a copy of `path` in a temporary directory (*tmpdir, removed
 * by the caller).  Returns NULL if neither can be had. */
static char *later_dump(const char *path, char **tmpdir)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	char *later;
	size_t stem;

	*tmpdir = NULL;
	stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) :
						strlen(path);
	later = malloc(strlen(path) + 16);
	if (!later)
		return NULL;
	sprintf(later, "%.*s-later%s", (int)stem, path, path + stem);
	if (access(later, R_OK) == 0)
		return later;
	free(later);
	{
		char tmpl[] = "/tmp/toolbench-XXXXXX";
		const char *base = slash ? slash + 1 : path;

		if (!mkdtemp(tmpl))
			return NULL;
		*tmpdir = strdup(tmpl);
		later = malloc(strlen(tmpl) + strlen(base) + 2);
		if (!later || !*tmpdir)
			return NULL;
		sprintf(later, "%s/%s", tmpl, base);
		if (copy_file(path, later) != 0) {
			free(later);
			return NULL;
		}
	}
	return later;
}

/* Run argv with stdout and stderr on /dev/null; fill the wall time, the
 * peak RSS and a status word.  Returns 0, or -1 if it could not start. */
static int run(char *const argv[], double timeout_s, double *wall_ms,
	       long *rss_kib, char *status, size_t status_size)
{
	struct rusage ru;
	double t0 = bench_now();
	int st, null_fd;
	pid_t pid, got;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		null_fd = open("/dev/null", O_WRONLY);
		if (null_fd >= 0) {
			dup2(null_fd, STDOUT_FILENO);
			dup2(null_fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		got = wait4(pid, &st, WNOHANG, &ru);
		if (got == pid)
			break;
		if (got < 0 && errno != EINTR)
			return -1;
		if (bench_now() - t0 > timeout_s) {
			kill(pid, SIGKILL);
			wait4(pid, &st, 0, &ru);
			snprintf(status, status_size, "timeout");
			*wall_ms = (bench_now() - t0) * 1e3;
			*rss_kib = ru.ru_maxrss;
			return 0;
		}
		nanosleep(&(struct timespec){0, 2000000}, NULL);
	}
	*wall_ms = (bench_now() - t0) * 1e3;
	*rss_kib = ru.ru_maxrss;
	if (WIFEXITED(st))
		snprintf(status, status_size, "%d", WEXITSTATUS(st));
	else
		snprintf(status, status_size, "signal_%d", WTERMSIG(st));
	return 0;
}

int main(int argc, char **argv)
{
	const char *label = "tool", *tool;
	double timeout_s = 300;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--label") == 0)
			label = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = strtod(argv[i + 1], NULL);
		else
			break;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: taskdump-toolbench [--label L] "
			"[--timeout S] TASKDUMP DUMP...\n");
		return 2;
	}
	tool = argv[i++];
	for (; i < argc; i++) {
		const char *path = argv[i], *format;
		char *later, *tmpdir;
		unsigned long long n;
		struct stat st;

		if (stat(path, &st) != 0) {
			fprintf(stderr, "taskdump-toolbench: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		peek_dump(path, &n, &format);
		later = later_dump(path, &tmpdir);
		if (!later) {
			fprintf(stderr, "taskdump-toolbench: %s: no later dump "
				"for diff, and no copy: %s\n", path,
				strerror(errno));
			return 1;
		}
		for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
			char *args[10], status[32];
			size_t k = 0;
			double ms;
			long rss;

			args[k++] = (char *)tool;
			for (size_t a = 0; verbs[v].args[a]; a++)
				args[k++] = (char *)verbs[v].args[a];
			args[k++] = (char *)path;
			if (strncmp(verbs[v].name, "diff", 4) == 0)
				args[k++] = later;
			args[k] = NULL;
			if (run(args, timeout_s, &ms, &rss, status,
				sizeof(status)) != 0) {
				fprintf(stderr, "taskdump-toolbench: cannot "
					"run %s\n", tool);
				return 1;
			}
			printf("RESULT impl=taskdump workload=tool label=%s "
			       "verb=%s format=%s n=%llu bytes=%lld "
			       "wall_ms=%.1f peak_rss_kib=%ld "
			       "rss_per_byte=%.3f status=%s\n",
			       label, verbs[v].name, format, n,
			       (long long)st.st_size, ms, rss,
			       (double)rss * 1024.0 /
				       (double)(st.st_size ? st.st_size : 1),
			       status);
			fflush(stdout);
		}
		if (tmpdir) {
			unlink(later);
			rmdir(tmpdir);
			free(tmpdir);
		}
		free(later);
	}
	return 0;
}
