/* pager.c - the pager of the tool's reports (see pager.h).
 *
 * Once started, the pager is the tool's child, reading a pipe that is the
 * tool's stdout.  At exit (atexit) the tool flushes stdout, closes it -
 * the pager sees the end of its input - and waits for it.  A signal that
 * would end the tool meanwhile (INT, TERM, HUP, QUIT) first waits for the
 * pager too, so that the terminal is not left to a pager in the
 * background; SIGPIPE (the pager quit early) ends the tool with status 0. */
#include "pager.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static bool disabled;
static volatile pid_t pager_pid = -1;

void tdc_pager_disable(void)
{
	disabled = true;
}

const char *tdc_pager_command(void)
{
	const char *p = getenv("TASKDUMP_PAGER");

	if (!p)
		p = getenv("PAGER");
	if (!p)
		p = "less -R";
	if (!*p || strcmp(p, "cat") == 0)
		return NULL;
	return p;
}

/* Is there an executable `name` on PATH (or at `name`, with a '/')? */
static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t k = strcspn(path, ":");
		int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)k, path,
				 name);

		if (k && n > 0 && (size_t)n < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		path += k;
		if (*path == ':')
			path++;
	}
	return false;
}

/* A command that is plainly one program and its words ("less -R") is
 * checked before it is run, so that a pager that does not exist does not
 * swallow the output; anything the shell must interpret is left to it. */
static bool runnable(const char *cmd)
{
	char first[1024];
	size_t k;

	if (strpbrk(cmd, "'\"\\$`|&;<>(){}*?[]~=#!\n"))
		return true;
	cmd += strspn(cmd, " \t");
	k = strcspn(cmd, " \t");
	if (k == 0)
		return true;
	if (k >= sizeof(first))
		return true;
	memcpy(first, cmd, k);
	first[k] = '\0';
	return on_path(first);
}

/* Wait for the pager (async-signal-safe). */
static void wait_pager(void)
{
	int st;

	if (pager_pid <= 0)
		return;
	while (waitpid(pager_pid, &st, 0) < 0 && errno == EINTR)
		;
	pager_pid = -1;
}

/* SIGPIPE: the user quit the pager; what is left to say, nobody reads. */
static void on_sigpipe(int sig)
{
	(void)sig;
	close(STDOUT_FILENO);
	wait_pager();
	_exit(TDC_EXIT_OK);
}

/* INT, TERM, HUP, QUIT: end once the pager has given the terminal back,
 * by the same signal. */
static void on_fatal(int sig)
{
	close(STDOUT_FILENO);
	wait_pager();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* At exit: the end of the pager's input, then wait for the user. */
static void finish(void)
{
	if (pager_pid <= 0)
		return;
	fflush(stdout);
	close(STDOUT_FILENO);
	wait_pager();
}

/* Handle `sig` with `fn`, unless the tool was started ignoring it. */
static void handle(int sig, void (*fn)(int), bool even_ignored)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) == 0 && !even_ignored &&
	    old.sa_handler == SIG_IGN)
		sigaction(sig, &old, NULL);
}

/* The child: the pipe as stdin, the environment less wants, the shell. */
static _Noreturn void exec_pager(const char *cmd, int fds[2])
{
	dup2(fds[0], STDIN_FILENO);
	close(fds[0]);
	close(fds[1]);
	if (!getenv("LESS"))
		setenv("LESS", "FRX", 1);
	if (!getenv("LV"))
		setenv("LV", "-c", 1);
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

bool tdc_pager_start(void)
{
	static bool registered;
	const char *cmd;
	sigset_t pipe_set;
	int fds[2];
	pid_t pid;

	if (pager_pid > 0)
		return true;
	if (disabled || isatty(STDOUT_FILENO) != 1 ||
	    !(cmd = tdc_pager_command()))
		return false;
	if (!runnable(cmd)) {
		tdc_error("warning: cannot find the pager '%s'; not paging "
			  "(set TASKDUMP_PAGER or PAGER)", cmd);
		return false;
	}
	fflush(stdout);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return false;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0)
		exec_pager(cmd, fds);
	pager_pid = pid;
	dup2(fds[1], STDOUT_FILENO);
	close(fds[0]);
	close(fds[1]);
	if (!registered)
		registered = atexit(finish) == 0;
	handle(SIGPIPE, on_sigpipe, true);
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	handle(SIGINT, on_fatal, false);
	handle(SIGTERM, on_fatal, false);
	handle(SIGHUP, on_fatal, false);
	handle(SIGQUIT, on_fatal, false);
	return true;
}

bool tdc_pager_active(void)
{
	return pager_pid > 0;
}

void tdc_pager_broken(int err)
{
	if (pager_pid <= 0 || err != EPIPE)
		return;
	close(STDOUT_FILENO);
	wait_pager();
	_exit(TDC_EXIT_OK);
}
