/* main.c - taskdump-demo: start the service, run until told to stop.
 *
 *   taskdump-demo [--current-thread] [--workers N] [--port P]
 *                 [--clients N] [--requests N] [--accountants N]
 *
 * It runs until SIGINT or SIGTERM (or, with --requests N, until every
 * client has made N requests), then checks what every part did, prints one
 * result line and exits 0 when everything added up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t r = write(stop_pipe[1], &c, 1);
	(void)r;
	errno = saved;
}

/* Wait for a byte on the stop pipe. */
typedef struct stop_wait {
	td_future base;
	td_async as;
	td_io io;
	char byte;
	td_io_read read;
} stop_wait;

static td_poll stop_wait_poll(td_future *f, td_context *cx)
{
	stop_wait *s = (stop_wait *)f;
	TD_BEGIN(&s->as);
	if (td_io_register(NULL, &s->io, stop_pipe[0]) != 0)
		TD_RETURN(&s->as);
	td_io_read_init(&s->read, &s->io, &s->byte, 1);
	TD_AWAIT(&s->as, &s->read, cx);
	td_io_deregister(&s->io);
	TD_END(&s->as);
}

static void stop_wait_drop(td_future *f)
{
	stop_wait *s = (stop_wait *)f;
	td_async_drop(&s->as);
	td_io_deregister(&s->io);
}

static const td_future_vtable stop_wait_vtable = {
	.poll = stop_wait_poll, .drop = stop_wait_drop,
	.type_name = "stop_wait"};

/* block_on: until a stop signal, or until the clients are done. */
typedef struct demo_main {
	td_future base;
	td_async as;
	struct demo *d;
	stop_wait stop;
	td_notified done;
	td_future *either[2];
	td_select select;
} demo_main;

static td_poll demo_main_poll(td_future *f, td_context *cx)
{
	demo_main *m = (demo_main *)f;
	TD_BEGIN(&m->as);
	m->stop = (stop_wait){.base = {&stop_wait_vtable}};
	td_notified_init(&m->done, &m->d->clients_done);
	m->either[0] = &m->stop.base;
	m->either[1] = &m->done.base;
	/* Without --requests the clients never finish: only a signal. */
	td_select_init(&m->select, m->either, m->d->requests ? 2 : 1);
	TD_AWAIT(&m->as, &m->select, cx);
	TD_END(&m->as);
}

static const td_future_vtable demo_main_vtable = {
	.poll = demo_main_poll, .type_name = "demo_main"};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: taskdump-demo [--current-thread] [--workers N] "
		"[--port P]\n"
		"                     [--clients N] [--requests N] "
		"[--accountants N]\n"
		"A small echo service with timers, locks and channels, whose "
		"task dumps\nare worth reading.  Runs until SIGINT/SIGTERM, or "
		"until each client\nhas made N requests (--requests N).\n");
}

static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s ? s : "", &end, 10);
	if (!s || !*s || *end || errno || v > max || s[0] == '-')
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, struct demo *d,
		      td_runtime_config *cfg, unsigned long *port)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long n;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--current-thread") == 0) {
			cfg->flavor = TD_FLAVOR_CURRENT_THREAD;
			continue;
		}
		if (!parse_num(v, 1000000, &n)) {
			fprintf(stderr, "taskdump-demo: %s needs a number\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--workers") == 0 && n >= 1 &&
		    n <= TD_MAX_WORKERS)
			cfg->workers = (unsigned)n;
		else if (strcmp(a, "--port") == 0 && n <= 65535)
			*port = n;
		else if (strcmp(a, "--clients") == 0)
			d->clients = (unsigned)n;
		else if (strcmp(a, "--requests") == 0)
			d->requests = n;
		else if (strcmp(a, "--accountants") == 0)
			d->accountants = (unsigned)n;
		else {
			fprintf(stderr, "taskdump-demo: bad option %s %s\n", a,
				v);
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

static int start(struct demo *d)
{
	int (*const parts[])(struct demo *) = {
		demo_spawn_server, demo_spawn_ticker,  demo_spawn_ledger,
		demo_spawn_pipeline, demo_spawn_fanout, demo_spawn_stuck,
		demo_spawn_clients,
	};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int err = parts[i](d);
		if (err)
			return err;
	}
	return 0;
}

static bool report(struct demo *d)
{
	uint64_t ok = atomic_load(&d->echoes_ok);
	uint64_t errs = atomic_load(&d->echo_errors);
	uint64_t produced = atomic_load(&d->produced_sum);
	uint64_t consumed = atomic_load(&d->consumed_sum);
	uint64_t posts = atomic_load(&d->ledger_posts);
	bool good = errs == 0 && d->ledger == posts && consumed <= produced &&
		    (!d->requests || ok == d->requests * d->clients);
	printf("taskdump-demo: results: echoes=%llu errors=%llu ticks=%llu "
	       "ledger=%llu posts=%llu produced=%llu consumed=%llu: %s\n",
	       (unsigned long long)ok, (unsigned long long)errs,
	       (unsigned long long)atomic_load(&d->ticks),
	       (unsigned long long)d->ledger, (unsigned long long)posts,
	       (unsigned long long)produced, (unsigned long long)consumed,
	       good ? "ok" : "MISMATCH");
	return good;
}

int main(int argc, char **argv)
{
	static struct demo d = {.clients = 4, .accountants = 4};
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2,
				 .name = "demo"};
	unsigned long port = 0;
	if (parse_args(argc, argv, &d, &cfg, &port) != 0)
		return 2;

	if (pipe2(stop_pipe, O_CLOEXEC) != 0) {
		perror("taskdump-demo: pipe");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int err = td_runtime_new(&cfg, &d.rt);
	if (err) {
		fprintf(stderr, "taskdump-demo: cannot create the runtime: %s\n",
			strerror(-err));
		return 1;
	}
	d.listen_fd = td_tcp_listen(NULL, (uint16_t)port, 128, &d.port);
	if (d.listen_fd < 0) {
		fprintf(stderr, "taskdump-demo: cannot listen on port %lu: %s\n",
			port, strerror(-d.listen_fd));
		return 1;
	}
	td_notify_init(&d.tick);
	td_notify_init(&d.clients_done);
	td_mutex_init(&d.ledger_lock);
	d.jobs = td_mpsc_bounded(sizeof(uint64_t), 4);
	d.reload = td_oneshot_new();
	if (!d.jobs || !d.reload) {
		fprintf(stderr, "taskdump-demo: out of memory\n");
		return 1;
	}
	printf("taskdump-demo: pid %d, echo server on 127.0.0.1:%u, %s "
	       "runtime",
	       (int)getpid(), d.port,
	       cfg.flavor == TD_FLAVOR_MULTI_THREAD ? "multi-thread"
						    : "current-thread");
	if (cfg.flavor == TD_FLAVOR_MULTI_THREAD)
		printf(" with %u workers", td_runtime_workers(d.rt));
	printf("\n");
	fflush(stdout);

	err = start(&d);
	if (err) {
		fprintf(stderr, "taskdump-demo: cannot start: %s\n",
			strerror(-err));
		return 1;
	}
	demo_main m = {.base = {&demo_main_vtable}, .d = &d};
	err = td_runtime_block_on(d.rt, &m.base, NULL);
	td_runtime_free(d.rt); /* drops every task that is still waiting */
	bool good = err == 0 && report(&d);

	td_mpsc_sender_release(d.jobs);
	td_mpsc_receiver_release(d.jobs);
	td_oneshot_sender_release(d.reload);
	td_mutex_destroy(&d.ledger_lock);
	td_notify_destroy(&d.tick);
	td_notify_destroy(&d.clients_done);
	close(d.listen_fd);
	return good ? 0 : 1;
}
