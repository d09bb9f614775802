/* service_main.c - taskdump-service: the server of the service-latency
 * bench (see service.h), run until SIGTERM or SIGINT.
 *
 *   taskdump-service [--current-thread] [--workers N] [--port P]
 *                    [--work ROUNDS]
 *
 * Multi-thread runtime with 2 workers by default; --current-thread runs
 * every task on the main thread.  Listens on 127.0.0.1 (port 0, the
 * default: an ephemeral one) and prints one line on stdout when it is
 * ready:
 *
 *   taskdump-service: pid 4242 port 38555 flavor=multi_thread threads=2
 *
 * and, at exit, one line of counters on stderr.  The soft RLIMIT_NOFILE is
 * raised to the hard limit, for the load generator's thousands of idle
 * connections.  Run it under LD_PRELOAD=libtaskdump_agent.so to dump it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "service.h"

/* The default rounds of svc_work per request: a few microseconds. */
#define DEFAULT_WORK 2000

static int stop_pipe[2] = {-1, -1};

/* SIGTERM / SIGINT: wake the main future (async-signal-safe). */
static void on_stop(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t r = write(stop_pipe[1], &c, 1);
	(void)r;
	errno = saved;
}

/* The future block_on drives: wait for a byte on the stop pipe. */
typedef struct stop_future {
	td_future base;
	td_async as;
	td_io io;
	char byte;
	td_io_read read;
} stop_future;

static td_poll stop_poll(td_future *f, td_context *cx)
{
	stop_future *s = (stop_future *)f;
	TD_BEGIN(&s->as);
	if (td_io_register(NULL, &s->io, stop_pipe[0]) != 0)
		TD_RETURN(&s->as);
	td_io_read_init(&s->read, &s->io, &s->byte, 1);
	TD_AWAIT(&s->as, &s->read, cx);
	td_io_deregister(&s->io);
	TD_END(&s->as);
}

static const td_future_vtable stop_vtable = {.poll = stop_poll,
					     .type_name = "svc_stop"};

/* Print the usage on `out` and exit with `status`. */
static void usage(FILE *out, int status)
{
	fprintf(out,
		"usage: taskdump-service [--current-thread] [--workers N] "
		"[--port P] [--work ROUNDS]\n");
	exit(status);
}

/* Parse a decimal number in [min, max] or exit with the usage. */
static unsigned long parse_num(const char *opt, const char *s,
			       unsigned long min, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s ? s : "", &end, 10);
	if (!s || !*s || *end || errno || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "taskdump-service: %s needs a number in "
			"%lu..%lu\n", opt, min, max);
		usage(stderr, 2);
	}
	return v;
}

/* Raise the soft descriptor limit to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("taskdump-service: setrlimit");
	}
}

int main(int argc, char **argv)
{
	static struct svc s = {.work = DEFAULT_WORK};
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2, .name = "service"};
	unsigned long port = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(stdout, 0);
		if (strcmp(a, "--current-thread") == 0) {
			cfg.flavor = TD_FLAVOR_CURRENT_THREAD;
			continue;
		}
		i++; /* every other option takes a value */
		if (strcmp(a, "--workers") == 0)
			cfg.workers = (unsigned)parse_num(a, v, 1,
							  TD_MAX_WORKERS);
		else if (strcmp(a, "--port") == 0)
			port = parse_num(a, v, 0, 65535);
		else if (strcmp(a, "--work") == 0)
			s.work = (unsigned)parse_num(a, v, 0, 100000000);
		else
			usage(stderr, 2);
	}

	raise_nofile();
	if (pipe2(stop_pipe, O_CLOEXEC) != 0) {
		perror("taskdump-service: pipe");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int err = td_runtime_new(&cfg, &s.rt);
	if (err) {
		fprintf(stderr, "taskdump-service: cannot create the runtime: "
			"%s\n", strerror(-err));
		return 1;
	}
	uint16_t bound;
	s.listen_fd = td_tcp_listen(NULL, (uint16_t)port, 4096, &bound);
	if (s.listen_fd < 0) {
		fprintf(stderr, "taskdump-service: cannot listen on port %lu: "
			"%s\n", port, strerror(-s.listen_fd));
		return 1;
	}
	err = svc_spawn_listener(&s);
	if (err) {
		fprintf(stderr, "taskdump-service: cannot start: %s\n",
			strerror(-err));
		return 1;
	}
	bool mt = cfg.flavor == TD_FLAVOR_MULTI_THREAD;
	printf("taskdump-service: pid %d port %u flavor=%s threads=%u\n",
	       (int)getpid(), bound, mt ? "multi_thread" : "current_thread",
	       mt ? td_runtime_workers(s.rt) : 1);
	fflush(stdout);

	stop_future stop = {.base = {&stop_vtable}};
	err = td_runtime_block_on(s.rt, &stop.base, NULL);
	td_runtime_free(s.rt); /* drops every connection task */
	close(s.listen_fd);
	fprintf(stderr, "taskdump-service: accepted=%llu requests=%llu "
		"bad_frames=%llu accept_errors=%llu\n",
		(unsigned long long)atomic_load(&s.accepted),
		(unsigned long long)atomic_load(&s.requests),
		(unsigned long long)atomic_load(&s.bad_frames),
		(unsigned long long)atomic_load(&s.accept_errors));
	return err == 0 ? 0 : 1;
}
