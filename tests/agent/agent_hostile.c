/* agent_hostile.c - programs that do what the agent must survive (issue
 * 10): they close or reuse every descriptor, exhaust RLIMIT_NOFILE, rely
 * on their own signal semantics, fork from a task during dumps, chdir.
 * hostile_cases.py drives them; each prints what it observed, and
 * "hostile: ... ok" only when the agent changed nothing it could see.
 *
 *   agent_hostile fds closeall|dup2|rlimit
 *       A runtime with idle tasks; the program's own descriptors: a log
 *       file and a pipe, opened after closing every inherited descriptor
 *       (closeall), or dup2()ed over 3..19 (dup2), or with no descriptor
 *       left to open (rlimit; "raise" on stdin lifts the limit again).
 *       A thread streams 8000 bytes through the pipe for as long as the
 *       test sends dumps ("stop" on stdin); the log is written and read
 *       back.  Prints "fds: pipe=OK log=OK agent_cpu_ms=N".
 *   agent_hostile signals
 *       Its own SIGUSR1 handler without SA_RESTART, sa_mask {SIGUSR2}:
 *       pthread_kill breaks a thread out of read() (EINTR), the mask is
 *       in force in the handler, SA_RESETHAND resets to SIG_DFL, SIG_IGN
 *       survives exec into a program without the agent.
 *   agent_hostile fork N
 *       N idle tasks and a task that fork()s every millisecond (the
 *       child exit()s at once, flushing stdio); prints the slowest fork.
 *   agent_hostile chdir
 *       chdir("/") after start; waits for "stop".
 *   agent_hostile print-ignored   (what the exec'd program runs)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/taskdump.h"

static atomic_bool quit;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- a runtime with idle tasks ------------------------------------------ */

typedef struct idler {
	td_future base;
	td_async as;
	td_sleep sleep;
} idler;

static td_poll idler_poll(td_future *f, td_context *cx)
{
	idler *s = (idler *)f;
	TD_BEGIN(&s->as);
	while (!atomic_load(&quit)) {
		td_sleep_init(&s->sleep, 20);
		TD_AWAIT(&s->as, &s->sleep, cx);
	}
	TD_END(&s->as);
}

static void idler_drop(td_future *f)
{
	td_async_drop(&((idler *)f)->as);
}

static const td_future_vtable idler_vtable = {
	.poll = idler_poll, .drop = idler_drop, .type_name = "idler"};

/* Slowest fork() so far, in microseconds, and how many. */
static _Atomic unsigned long fork_max_us, forks;

typedef struct forker {
	td_future base;
	td_async as;
	td_sleep sleep;
} forker;

static td_poll forker_poll(td_future *f, td_context *cx)
{
	forker *s = (forker *)f;
	TD_BEGIN(&s->as);
	while (!atomic_load(&quit)) {
		double t0 = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			if (getenv("HOSTILE_CHILD_EXIT"))
				_exit(0); /* (see hostile_cases.py) */
			exit(0); /* atexit, destructors, stdio flushed */
		}
		unsigned long us = (unsigned long)((now_ms() - t0) * 1e3);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		if (us > atomic_load(&fork_max_us))
			atomic_store(&fork_max_us, us);
		atomic_fetch_add(&forks, 1);
		td_sleep_init(&s->sleep, 1);
		TD_AWAIT(&s->as, &s->sleep, cx);
	}
	TD_END(&s->as);
}

static void forker_drop(td_future *f)
{
	td_async_drop(&((forker *)f)->as);
}

static const td_future_vtable forker_vtable = {
	.poll = forker_poll, .drop = forker_drop, .type_name = "forker"};

static td_runtime *start_runtime(unsigned idlers, bool with_forker)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2,
				 .name = "hostile"};
	td_runtime *rt;
	if (td_runtime_new(&cfg, &rt) != 0)
		return NULL;
	for (unsigned i = 0; i < idlers; i++) {
		idler s = {.base = {&idler_vtable}};
		td_spawn_named(rt, "idler", &s, NULL);
	}
	if (with_forker) {
		forker k = {.base = {&forker_vtable}};
		td_spawn_named(rt, "forker", &k, NULL);
	}
	return rt;
}

/* (A signal the program handles without SA_RESTART cuts the read short:
 * EINTR, as the program asked; read on.) */
static void wait_for_line(const char *want)
{
	char line[64];
	for (;;) {
		errno = 0;
		if (!fgets(line, sizeof(line), stdin)) {
			if (errno != EINTR)
				return;
			clearerr(stdin);
			continue;
		}
		if (strncmp(line, want, strlen(want)) == 0)
			return;
	}
}

/* CPU time of the agent's thread so far (a spinning thread shows). */
static long agent_cpu_ms(void)
{
	char path[64], buf[512];
	long best = -1;
	for (int tid = getpid(); tid < getpid() + 64; tid++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		bool agent = fgets(buf, sizeof(buf), f) &&
			     strcmp(buf, "taskdump-agent\n") == 0;
		fclose(f);
		if (!agent)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
		f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f)) {
			unsigned long ut = 0, st = 0;
			const char *p = strrchr(buf, ')');
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u "
					       "%*u %*u %*u %lu %lu",
					&ut, &st) == 2)
				best = (long)((ut + st) * 1000 /
					      (unsigned long)sysconf(
						      _SC_CLK_TCK));
		}
		if (f)
			fclose(f);
	}
	return best;
}

/* ---- fds ------------------------------------------------------------------ */

#define PIPE_BYTES 8000
static int pipe_rd = -1, pipe_wr = -1;

static void *pipe_writer(void *arg)
{
	(void)arg;
	unsigned char chunk[100];
	for (int off = 0; off < PIPE_BYTES; off += (int)sizeof(chunk)) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (unsigned char)((off + (int)i) * 7 + 1);
		if (write(pipe_wr, chunk, sizeof(chunk)) != sizeof(chunk))
			break;
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
	close(pipe_wr);
	return NULL;
}

static int mode_fds(const char *how)
{
	int p[2];
	char logpath[] = "/tmp/agent_hostile_log.XXXXXX";

	if (strcmp(how, "closeall") == 0) {
		/* A daemon's start: every inherited descriptor closed. */
		if (syscall(SYS_close_range, 3U, ~0U, 0) != 0) {
			for (int fd = 3; fd < 1024; fd++)
				close(fd);
		}
	}
	int log = mkostemp(logpath, O_CLOEXEC);
	if (log < 0 || pipe(p) != 0)
		return 1;
	unlink(logpath);
	pipe_rd = p[0];
	pipe_wr = p[1];
	if (strcmp(how, "dup2") == 0) {
		/* The program's pipe over every low number (whatever was
		 * there is gone). */
		for (int fd = 3; fd < 20; fd++)
			if (fd != pipe_rd && fd != pipe_wr && fd != log)
				dup2(pipe_rd, fd);
	}
	/* The runtime after the program's own descriptors (which take the
	 * lowest numbers, where an agent's own would have been). */
	td_runtime *rt = start_runtime(20, false);
	if (!rt)
		return 1;
	struct rlimit lim, saved;
	getrlimit(RLIMIT_NOFILE, &saved);
	if (strcmp(how, "rlimit") == 0) {
		int top = 0;
		for (int fd = 0; fd < 4096; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				top = fd;
		lim = saved;
		lim.rlim_cur = (rlim_t)top + 1; /* not one more */
		setrlimit(RLIMIT_NOFILE, &lim);
	}
	pthread_t th;
	pthread_create(&th, NULL, pipe_writer, NULL);
	printf("hostile: pid %d ready\n", (int)getpid());
	fflush(stdout);

	/* The program's own traffic while the test dumps it. */
	unsigned char buf[512];
	size_t got = 0;
	bool pipe_ok = true;
	for (;;) {
		ssize_t n = read(pipe_rd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((int)(got + (size_t)i) * 7 +
						      1))
				pipe_ok = false;
		got += (size_t)n;
	}
	pthread_join(th, NULL);
	static const char line[] = "the program's own log line\n";
	for (int i = 0; i < 50; i++)
		if (write(log, line, sizeof(line) - 1) < 0)
			return 1;
	printf("hostile: transfer done\n");
	fflush(stdout);
	if (strcmp(how, "rlimit") == 0) {
		wait_for_line("raise");
		setrlimit(RLIMIT_NOFILE, &saved);
		printf("hostile: raised\n");
		fflush(stdout);
	}
	wait_for_line("stop");
	off_t size = lseek(log, 0, SEEK_END);
	char *back = malloc((size_t)size + 1);
	bool log_ok = size == (off_t)(50 * (sizeof(line) - 1)) &&
		      pread(log, back, (size_t)size, 0) == size;
	for (off_t o = 0; log_ok && o < size; o += sizeof(line) - 1)
		log_ok = memcmp(back + o, line, sizeof(line) - 1) == 0;
	free(back);
	atomic_store(&quit, true);
	printf("fds: pipe=%s bytes=%zu log=%s size=%lld agent_cpu_ms=%ld\n",
	       pipe_ok && got == PIPE_BYTES ? "OK" : "BAD", got,
	       log_ok ? "OK" : "BAD", (long long)size, agent_cpu_ms());
	fflush(stdout);
	td_runtime_free(rt);
	return 0;
}

/* ---- signals -------------------------------------------------------------- */

static _Atomic int handler_calls, mask_ok = 1;

static void on_usr1(int sig)
{
	(void)sig;
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR2))
		atomic_store(&mask_ok, 0);
	atomic_fetch_add(&handler_calls, 1);
}

static int rd_pipe[2];
static _Atomic int read_errno;

static void *blocked_reader(void *arg)
{
	(void)arg;
	char c;
	ssize_t n = read(rd_pipe[0], &c, 1);
	atomic_store(&read_errno, n < 0 ? errno : 0);
	return NULL;
}

static int mode_signals(const char *self)
{
	td_runtime *rt = start_runtime(5, false);
	if (!rt)
		return 1;
	struct sigaction sa, q;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sa.sa_flags = 0; /* no SA_RESTART: the program wants EINTR */
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || pipe(rd_pipe) != 0)
		return 1;

	/* 1. pthread_kill breaks a thread out of a blocking read. */
	pthread_t th;
	pthread_create(&th, NULL, blocked_reader, NULL);
	struct timespec ts = {0, 200 * 1000000L};
	nanosleep(&ts, NULL);
	double t0 = now_ms();
	pthread_kill(th, SIGUSR1);
	/* (Give up after 3 s: write a byte, as the program's watchdog.) */
	for (int i = 0; i < 300 && atomic_load(&read_errno) == 0; i++) {
		struct timespec tick = {0, 10 * 1000000L};
		nanosleep(&tick, NULL);
	}
	double took = now_ms() - t0;
	if (atomic_load(&read_errno) == 0 && write(rd_pipe[1], "x", 1) < 0)
		return 1;
	pthread_join(th, NULL);
	int eintr = atomic_load(&read_errno) == EINTR;

	/* 2. SA_RESETHAND: one delivery, then SIG_DFL (reported so). */
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &q);
	int resethand = q.sa_handler == SIG_DFL;

	/* 3. SIG_IGN survives exec into a program without the agent. */
	signal(SIGUSR1, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		execl(self, self, "print-ignored", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	int exec_ignored = WIFEXITED(status) && WEXITSTATUS(status) == 42;

	/* Back to the program's handler for the test's own kill. */
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	printf("signals: eintr=%d read_ms=%.0f mask=%d resethand=%d "
	       "exec_ignored=%d handler=%d\n",
	       eintr, took, atomic_load(&mask_ok), resethand, exec_ignored,
	       atomic_load(&handler_calls));
	printf("hostile: pid %d ready\n", (int)getpid());
	fflush(stdout);
	wait_for_line("stop");
	printf("signals: handler=%d\n", atomic_load(&handler_calls));
	fflush(stdout);
	atomic_store(&quit, true);
	td_runtime_free(rt);
	return 0;
}

static int mode_print_ignored(void)
{
	struct sigaction q;
	sigaction(SIGUSR1, NULL, &q);
	return q.sa_handler == SIG_IGN ? 42 : 1;
}

/* ---- fork, chdir ------------------------------------------------------------ */

static int mode_fork(unsigned idlers)
{
	td_runtime *rt = start_runtime(idlers, true);
	if (!rt)
		return 1;
	printf("hostile: pid %d ready\n", (int)getpid());
	fflush(stdout);
	wait_for_line("stop");
	atomic_store(&quit, true);
	printf("fork: forks=%lu max_ms=%.1f\n", atomic_load(&forks),
	       (double)atomic_load(&fork_max_us) / 1e3);
	fflush(stdout);
	td_runtime_free(rt);
	return 0;
}

static int mode_chdir(void)
{
	td_runtime *rt = start_runtime(5, false);
	if (!rt || chdir("/") != 0)
		return 1;
	printf("hostile: pid %d ready\n", (int)getpid());
	fflush(stdout);
	wait_for_line("stop");
	atomic_store(&quit, true);
	td_runtime_free(rt);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "fds") == 0)
		return mode_fds(argv[2]);
	if (argc == 2 && strcmp(argv[1], "signals") == 0)
		return mode_signals(argv[0]);
	if (argc == 2 && strcmp(argv[1], "print-ignored") == 0)
		return mode_print_ignored();
	if (argc == 3 && strcmp(argv[1], "fork") == 0)
		return mode_fork((unsigned)atoi(argv[2]));
	if (argc == 2 && strcmp(argv[1], "chdir") == 0)
		return mode_chdir();
	fprintf(stderr, "usage: see agent_hostile.c\n");
	return 2;
}
