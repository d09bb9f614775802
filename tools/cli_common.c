/* cli_common.c - option errors, help, the common options, loading, and
 * safe output. */
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "color.h"
#include "input.h"
#include "pager.h"
#include "write.h"

/* At most this many threads load dumps besides the main one. */
#define TDC_LOAD_THREADS 8

#ifndef TD_TOOL_VERSION
#define TD_TOOL_VERSION "unknown"
#endif

const char tdc_exit_help[] =
	"\nExit status: 0 success, 1 usage error, 2 unreadable or malformed "
	"dump file,\n3 process problem (no such process, permission denied, "
	"no agent, exited),\n4 timed out waiting for the dump, 5 system "
	"error (out of memory, cannot write).\n";

static const char common_help[] =
	"\nCommon options (every command):\n"
	"  --color[=WHEN]      colour the output: auto (default: on a "
	"terminal, unless\n"
	"                      NO_COLOR is set or TERM=dumb), always, never\n"
	"  --no-pager          do not page (show, diff, fold and help are "
	"paged on a\n"
	"                      terminal: $TASKDUMP_PAGER, $PAGER or less "
	"-R)\n"
	"  --version           print the version\n"
	"See also man taskdump and man taskdump-<command>.\n";

/* --color's value; NO_COLOR and the terminal decide "auto". */
static tdc_color_when color_when = TDC_COLOR_AUTO;

bool tdc_common_option(const char *verb, int c, const char *arg)
{
	switch (c) {
	case TDC_OPT_COLOR:
		if (arg && !tdc_color_parse(arg, &color_when))
			tdc_usage(verb, "--color must be auto, always or "
				  "never, not '%s'", arg);
		if (!arg)
			color_when = TDC_COLOR_ALWAYS;
		return true;
	case TDC_OPT_NO_PAGER:
		tdc_pager_disable();
		return true;
	case TDC_OPT_VERSION:
		tdc_version();
	default:
		return false;
	}
}

void tdc_version(void)
{
	printf("taskdump %s (dump format version 1)\n", TD_TOOL_VERSION);
	tdc_finish_stdout();
	exit(TDC_EXIT_OK);
}

bool tdc_report_begin(void)
{
	/* Decided first: once paged, stdout is the pager's pipe. */
	bool color = tdc_color_wanted(color_when, STDOUT_FILENO);

	tdc_pager_start();
	return color;
}

void tdc_usage(const char *verb, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (verb)
		tdc_die(TDC_EXIT_USAGE, "%s: %s (see 'taskdump %s --help')",
			verb, msg, verb);
	tdc_die(TDC_EXIT_USAGE, "%s (see 'taskdump --help')", msg);
}

void tdc_bad_option(const char *verb, int c, char **argv)
{
	extern int optind, optopt;
	const char *arg = argv[optind - 1];

	if (c == ':')
		tdc_usage(verb, "option '%s' needs a value", arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		tdc_usage(verb, "unknown option '-%c'", optopt);
	tdc_usage(verb, "unknown option '%s'", arg);
}

void tdc_help(const char *text)
{
	tdc_report_begin();
	fputs(text, stdout);
	fputs(common_help, stdout);
	fputs(tdc_exit_help, stdout);
	tdc_finish_stdout();
	exit(TDC_EXIT_OK);
}

const char *tdc_format_arg(const char *verb, const char *arg)
{
	if (strcmp(arg, "text") == 0)
		return "text";
	if (strcmp(arg, "json") == 0)
		return "json";
	tdc_usage(verb, "--format must be text or json, not '%s'", arg);
}

/* Loading several dumps (diff compares two or more; show and fold take
 * several): with more than one processor, each file is read by a thread
 * of its own, up to one per processor, as parsing is all CPU and the
 * dumps share nothing (each has its own input, arena and intern tables).
 * The first failure in argument order is the one reported, as a
 * sequential load would: this thread waits for the files in order and
 * exits at the first one that failed, whatever the others are doing (one
 * may be blocked on a pipe). */
typedef struct loader {
	char **files;
	int n, next;                /* the next file to take */
	tdc_dump **d;
	tdc_err *e;
	int *rc;                    /* per file: 1 not read yet, 0, -1 */
	pthread_mutex_t lock;
	pthread_cond_t done;
} loader;

static void *load_thread(void *arg)
{
	loader *l = arg;

	for (;;) {
		tdc_dump *d = NULL;
		int i, rc;

		pthread_mutex_lock(&l->lock);
		i = l->next < l->n ? l->next++ : -1;
		pthread_mutex_unlock(&l->lock);
		if (i < 0)
			return NULL;
		rc = tdc_load_file(l->files[i], &d, &l->e[i]);
		pthread_mutex_lock(&l->lock);
		l->d[i] = d;
		l->rc[i] = rc;
		pthread_cond_broadcast(&l->done);
		pthread_mutex_unlock(&l->lock);
	}
}

tdc_dump **tdc_load_all(char **files, int n)
{
	loader l = {.files = files, .n = n};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[TDC_LOAD_THREADS];
	int want = n, started = 0;

	if (want > cpus)
		want = cpus < 1 ? 1 : (int)cpus;
	if (want > TDC_LOAD_THREADS)
		want = TDC_LOAD_THREADS;
	l.d = tdc_xcalloc((size_t)n, sizeof(*l.d));
	l.e = tdc_xcalloc((size_t)n, sizeof(*l.e));
	l.rc = tdc_xcalloc((size_t)n, sizeof(*l.rc));
	for (int i = 0; i < n; i++)
		l.rc[i] = 1;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.done, NULL);
	while (want > 1 && started < want &&
	       pthread_create(&th[started], NULL, load_thread, &l) == 0)
		started++;
	for (int i = 0; i < n; i++) {
		if (started == 0) {
			/* One processor, or no thread could start: here,
			 * one file after the other. */
			l.rc[i] = tdc_load_file(files[i], &l.d[i], &l.e[i]);
		} else {
			pthread_mutex_lock(&l.lock);
			while (l.rc[i] > 0)
				pthread_cond_wait(&l.done, &l.lock);
			pthread_mutex_unlock(&l.lock);
		}
		if (l.rc[i] < 0) {
			if (started == 0)
				tdc_free_all(l.d, i);
			tdc_die(tdc_err_status(&l.e[i]), "%s", l.e[i].msg);
		}
	}
	for (int k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_cond_destroy(&l.done);
	pthread_mutex_destroy(&l.lock);
	free(l.e);
	free(l.rc);
	return l.d;
}

void tdc_free_all(tdc_dump **d, int n)
{
	for (int i = 0; i < n; i++)
		tdc_dump_free(d[i]);
	free(d);
}

void tdc_finish_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		/* The user quit the pager early: not an error. */
		tdc_pager_broken(errno);
		tdc_die(TDC_EXIT_SYSTEM, "cannot write the output: %s",
			strerror(errno ? errno : EIO));
	}
}

/* The temporary file of the output being written, removed if the tool
 * exits before it is renamed into place (tdc_die: out of memory, say), so
 * that no partial file is ever left behind.  One output at a time. */
static char *pending_tmp;

static void remove_pending(void)
{
	if (pending_tmp)
		unlink(pending_tmp);
}

FILE *tdc_atomic_open(const char *path, char **tmp, char **dest)
{
	static bool registered;
	struct stat st;
	char *real = NULL, *dir, *t;
	size_t n;
	FILE *f;
	int fd;

	*tmp = *dest = NULL;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or a pipe (-o /dev/stdout): write through it. */
		if (!(f = fopen(path, "we")))
			tdc_error("cannot open %s: %s", path, strerror(errno));
		return f;
	}
	/* Through a symbolic link, replace its target, not the link. */
	real = realpath(path, NULL);
	*dest = tdc_xstrdup(real ? real : path);
	free(real);
	dir = dirname(tdc_xstrdup(*dest));
	n = strlen(*dest) + 16;
	t = tdc_xmalloc(n);
	snprintf(t, n, "%s/.taskdump.XXXXXX", dir);
	free(dir);
	fd = mkstemp(t);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		tdc_error("cannot create %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(t);
		}
		free(t);
		free(*dest);
		*dest = NULL;
		return NULL;
	}
	*tmp = t;
	if (!registered)
		registered = atexit(remove_pending) == 0;
	pending_tmp = t;
	return f;
}

int tdc_atomic_commit(FILE *f, char *tmp, char *dest, const char *path)
{
	int err = 0;

	if (fflush(f) != 0 || ferror(f) || (tmp && fsync(fileno(f)) != 0))
		err = errno ? errno : EIO;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (tmp && !err && rename(tmp, dest) != 0)
		err = errno;
	pending_tmp = NULL;
	if (err) {
		if (tmp)
			unlink(tmp);
		tdc_error("cannot write %s: %s", path, strerror(err));
	}
	free(tmp);
	free(dest);
	return err ? TDC_EXIT_SYSTEM : TDC_EXIT_OK;
}

void tdc_atomic_abort(FILE *f, char *tmp, char *dest)
{
	fclose(f);
	if (tmp)
		unlink(tmp);
	pending_tmp = NULL;
	free(tmp);
	free(dest);
}

void tdc_print_dump(FILE *f, const tdc_dump *d, const char *format,
		    bool group)
{
	if (strcmp(format, "json") == 0)
		tdc_write_json(f, d);
	else
		tdc_write_text(f, d, group);
}
