/* cmd_run.c - `taskdump run -- PROGRAM ARGS...`: run under the agent.
 *
 * The program runs with libtaskdump_agent.so appended to LD_PRELOAD; the
 * tool takes the dumps asked for on a schedule (same request logic as
 * `dump`), prints each file's path, forwards INT/TERM/HUP/QUIT to the
 * program and exits with its status (128+N if signal N killed it). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "target.h"

#ifndef TD_LIBDIR
#define TD_LIBDIR "/usr/local/lib"
#endif
/* The install's libdir as seen from its bindir ("../lib/x86_64-linux-gnu"),
 * or an absolute path when one of them is not under the prefix. */
#ifndef TD_BINDIR_TO_LIBDIR
#define TD_BINDIR_TO_LIBDIR "../lib"
#endif

#define AGENT "libtaskdump_agent.so"

static const char help[] =
	"Usage: taskdump run [options] [--] PROGRAM [ARGS...]\n"
	"\n"
	"Run PROGRAM with the taskdump agent preloaded (appended to "
	"LD_PRELOAD) and\ntake dumps on a schedule; print each dump's path "
	"as it appears.\nINT, TERM, HUP and QUIT are forwarded to the "
	"program (unless the terminal\nalready sent them to it).  taskdump "
	"exits with the program's exit status,\n128+N if signal N killed it "
	"(126/127: it could not be run).\n"
	"\n"
	"The agent is $TASKDUMP_AGENT if set, else " AGENT " next to\n"
	"the taskdump executable, else in ../agent/ relative to it (a build "
	"tree),\nelse in the libdir of the install the executable is in "
	"(" TD_BINDIR_TO_LIBDIR ",\nrelative to it), else in " TD_LIBDIR
	".\n"
	"\n"
	"Options:\n"
	"  -a, --dump-after DUR  take the first dump DUR after the start "
	"(500ms, 2s,\n"
	"                        1.5m; a bare number is seconds)\n"
	"  -e, --every DUR       then one dump every DUR\n"
	"  -n, --count N         this many dumps in all (default: 1 with "
	"--dump-after\n"
	"                        alone, unlimited with --every)\n"
	"  -d, --dir DIR         where the agent writes dumps (sets "
	"TASKDUMP_DIR)\n"
	"  -f, --format FMT      text or json (sets TASKDUMP_FORMAT)\n"
	"  -t, --timeout DUR     wait at most DUR for each dump (default "
	"10s)\n"
	"  -s, --show            print each dump after its path\n"
	"  -h, --help            this help\n"
	"\nWhen taskdump takes dumps itself it sets TASKDUMP_QUIET=1 (unless "
	"set): the\nagent then reports only its errors, taskdump the paths.\n";

static const struct option longopts[] = {
	{"dump-after", required_argument, NULL, 'a'},
	{"every", required_argument, NULL, 'e'},
	{"count", required_argument, NULL, 'n'},
	{"dir", required_argument, NULL, 'd'},
	{"format", required_argument, NULL, 'f'},
	{"timeout", required_argument, NULL, 't'},
	{"show", no_argument, NULL, 's'},
	{"help", no_argument, NULL, 'h'},
	TDC_COMMON_OPTIONS,
	{NULL, 0, NULL, 0},
};

typedef struct opts {
	double after_ms, every_ms, timeout_ms;
	bool has_after, has_every;
	uint64_t count;
	bool has_count;
	char *dir;
	const char *format;
	bool show; /* print each dump after its path */
} opts;

static volatile sig_atomic_t child_pid;

/* Async-signal-safe: kill() only.  Signals from the terminal (si_code
 * SI_KERNEL) went to the whole foreground process group, the program
 * included; forwarding them would deliver them twice. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if (child_pid > 0 && si->si_code != SI_KERNEL)
		kill((pid_t)child_pid, sig);
	errno = saved;
}

static void install_forwarding(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The absolute path of a readable file, or NULL. */
static char *usable(const char *path)
{
	if (access(path, R_OK) != 0)
		return NULL;
	return realpath(path, NULL);
}

/* The agent library to preload, or exit 5 after reporting. */
static char *find_agent(void)
{
	const char *env = getenv("TASKDUMP_AGENT");
	char self[PATH_MAX], *slash = NULL, *found;
	tdc_buf b = {0};
	ssize_t n;

	if (env && env[0]) {
		if ((found = usable(env)))
			goto out;
		tdc_die(TDC_EXIT_SYSTEM, "TASKDUMP_AGENT=%s: %s", env,
			strerror(errno));
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
	}
	if (slash) {
		*slash = '\0'; /* the directory of the taskdump executable */
		tdc_buf_printf(&b, "%s/" AGENT, self);
		if ((found = usable(b.p)))
			goto out;
		b.len = 0;
		tdc_buf_printf(&b, "%s/../agent/" AGENT, self);
		if ((found = usable(b.p)))
			goto out;
		/* An install moved elsewhere (a DESTDIR, a copied prefix). */
		b.len = 0;
		if (TD_BINDIR_TO_LIBDIR[0] != '/') {
			tdc_buf_printf(&b, "%s/" TD_BINDIR_TO_LIBDIR "/" AGENT,
				       self);
			if ((found = usable(b.p)))
				goto out;
		}
	}
	if ((found = usable(TD_LIBDIR "/" AGENT)))
		goto out;
	tdc_die(TDC_EXIT_SYSTEM, "cannot find " AGENT " (looked next to the "
		"taskdump executable, in ../agent/ and " TD_BINDIR_TO_LIBDIR
		"/ relative to it, and in " TD_LIBDIR "); set TASKDUMP_AGENT to "
		"its path");
out:
	tdc_buf_free(&b);
	if (strpbrk(found, " :"))
		tdc_die(TDC_EXIT_SYSTEM, "the agent's path %s contains a space "
			"or a colon, which LD_PRELOAD cannot express", found);
	return found;
}

/* In the child, between fork and exec (single-threaded: setenv is ok). */
static _Noreturn void child(char **argv, const char *agent, const opts *o,
			    int errfd)
{
	const char *old = getenv("LD_PRELOAD");
	int err;

	if (old && old[0] && !strstr(old, agent)) {
		size_t n = strlen(old) + strlen(agent) + 2;
		char *v = malloc(n);

		if (v) {
			snprintf(v, n, "%s:%s", old, agent);
			setenv("LD_PRELOAD", v, 1);
		}
	} else if (!old || !old[0]) {
		setenv("LD_PRELOAD", agent, 1);
	}
	if (o->dir)
		setenv("TASKDUMP_DIR", o->dir, 1);
	if (o->format)
		setenv("TASKDUMP_FORMAT", o->format, 1);
	/* We print each path; the agent's own "dump written" line would
	 * say it twice (its error lines stay). */
	if (o->count > 0)
		setenv("TASKDUMP_QUIET", "1", 0);
	execvp(argv[0], argv);
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/* Fork and exec; returns the pid, or exits 126/127 if exec failed. */
static pid_t start(char **argv, const char *agent, const opts *o)
{
	int fds[2], err;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0)
		tdc_die(TDC_EXIT_SYSTEM, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		tdc_die(TDC_EXIT_SYSTEM, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		child(argv, agent, o, fds[1]);
	}
	close(fds[1]);
	/* EOF: exec succeeded (the pipe closed on exec). */
	do
		n = read(fds[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		tdc_die(err == ENOENT ? 127 : 126, "cannot run %s: %s",
			argv[0], strerror(err));
	}
	return pid;
}

static void parse(int argc, char **argv, opts *o)
{
	int c;
	uint64_t v;

	opterr = 0;
	/* '+': stop at PROGRAM, its options are its own. */
	while ((c = getopt_long(argc, argv, "+:a:e:n:d:f:t:sh", longopts,
				NULL)) != -1) {
		if (tdc_common_option("run", c, optarg))
			continue;
		switch (c) {
		case 'a':
		case 'e':
		case 't': {
			double *ms = c == 'a' ? &o->after_ms :
				     c == 'e' ? &o->every_ms : &o->timeout_ms;

			if (!tdc_parse_duration(optarg, ms))
				tdc_usage("run", "'%s' is not a duration (like "
					  "500ms, 2s or 1.5m)", optarg);
			o->has_after |= c == 'a';
			o->has_every |= c == 'e';
			break;
		}
		case 'n':
			if (!tdc_parse_u64(optarg, strlen(optarg), &v))
				tdc_usage("run", "--count needs a number, not "
					  "'%s'", optarg);
			o->count = v;
			o->has_count = true;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'f':
			o->format = tdc_format_arg("run", optarg);
			break;
		case 's':
			o->show = true;
			break;
		case 'h':
			tdc_help(help);
		default:
			tdc_bad_option("run", c, argv);
		}
	}
	if (optind >= argc)
		tdc_usage("run", "no PROGRAM given");
	if (o->has_every && o->every_ms <= 0)
		tdc_usage("run", "--every must be more than 0");
	if (o->has_count && !o->has_after && !o->has_every)
		tdc_usage("run", "--count needs --dump-after or --every");
	if (!o->has_count)
		o->count = o->has_every ? UINT64_MAX :
			   o->has_after ? 1 : 0;
	if (!o->has_after)
		o->after_ms = o->every_ms;
}

/* Make --dir absolute (the program may change directory) and check it. */
static void check_dir(opts *o)
{
	struct stat st;
	char *real;

	if (!o->dir)
		return;
	if (stat(o->dir, &st) != 0)
		tdc_usage("run", "--dir %s: %s", o->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		tdc_usage("run", "--dir %s: not a directory", o->dir);
	real = realpath(o->dir, NULL);
	if (!real)
		tdc_die(TDC_EXIT_SYSTEM, "--dir %s: %s", o->dir,
			strerror(errno));
	o->dir = real;
}

static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return TDC_EXIT_SYSTEM;
}

/* Copy a finished dump file to stdout (--show), up to the size it had
 * when checked.  A read error is reported but does not stop the
 * schedule. */
static void show_file(tdc_dumpfile *f)
{
	char buf[65536];
	long n;
	tdc_input in;
	tdc_err e;

	tdc_input_fd(&in, f->path, f->fd, f->size);
	f->fd = -1; /* the input closes it */
	while ((n = tdc_input_read(&in, buf, sizeof(buf), &e)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0)
		tdc_error("%s", e.msg);
	else if (in.got < f->size)
		tdc_error("%s became shorter while being read", f->path);
	tdc_input_close(&in);
}

/* Take one dump; false once dumps can no longer be taken. */
static bool take(tdc_target *t, const opts *o)
{
	tdc_dumpfile f;

	if (!t->ready &&
	    tdc_target_agent(t, true, o->timeout_ms) != TDC_EXIT_OK)
		return false;
	if (tdc_target_dump(t, o->timeout_ms, &f) != TDC_EXIT_OK) {
		tdc_dumpfile_close(&f);
		return tdc_target_alive(t);
	}
	printf("%s\n", f.path);
	if (o->show)
		show_file(&f);
	fflush(stdout);
	tdc_dumpfile_close(&f);
	return true;
}

int tdc_cmd_run(int argc, char **argv)
{
	opts o = {.timeout_ms = 10000};
	double next;
	uint64_t taken = 0;
	bool dumping = true;
	char *agent;
	tdc_target t;
	pid_t pid;
	int st = 0;

	parse(argc, argv, &o);
	check_dir(&o);
	agent = find_agent();
	pid = start(argv + optind, agent, &o);
	child_pid = pid;
	install_forwarding();
	next = tdc_now_ms() + o.after_ms;
	memset(&t, 0, sizeof(t));
	t.procfd = -1;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		bool due = dumping && taken < o.count;

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			tdc_die(TDC_EXIT_SYSTEM, "waitpid: %s",
				strerror(errno));
		if (due && tdc_now_ms() >= next) {
			/* After a failure (reported), keep running the
			 * program but take no more dumps.  The target is
			 * opened at the first dump: a program that ends
			 * before has nothing to report. */
			if (!t.pid)
				dumping = tdc_target_open(&t, pid) ==
					  TDC_EXIT_OK;
			if (dumping)
				dumping = take(&t, &o);
			taken++;
			next += o.every_ms;
			continue;
		}
		tdc_sleep_ms(due && next - tdc_now_ms() < 20 ?
			     next - tdc_now_ms() : 20);
	}
	tdc_target_close(&t);
	free(agent);
	tdc_finish_stdout();
	return exit_status(st);
}
