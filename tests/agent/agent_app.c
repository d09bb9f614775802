/* agent_app.c - a small taskdump program for the agent's integration tests
 * (run_agent_tests.py drives it).
 *
 *   agent_app [--current-thread] [--workers N] [--sleepers N]
 *             [--own-handler sigaction|signal|ignore] [--name NAME]
 *
 * It runs a runtime with a few tasks whose traces are known:
 *   "sleeper" x N   sleeper_poll -> nap_poll -> td_sleep_poll, in a loop,
 *                   counting its rounds (the program's "work");
 *   "waiter"        waiter_poll -> the notified leaf of a td_notify that
 *                   is never notified;
 *   "stuck"         (on request) blocks its worker inside its poll;
 *   "fresh"         (on request) counts the polls that enter its code
 *                   before its first await, and notes whether one ran
 *                   outside the runtime's threads.
 *
 * "agent_app: pid N ready" is printed once every task has been polled for
 * the first time (by the block_on future, which waits for that).
 *
 * A control thread reads commands from stdin, one per line, and answers
 * on stdout (line-buffered):
 *   stuck MS   spawn a task that blocks its worker for MS ms inside poll();
 *              prints "stuck <id> entered" once it blocks
 *   fresh      spawn the task "fresh" (see above); prints "fresh <id>"
 *   fork       fork; the child prints "child <pid>", keeps its own tasks
 *              running on a fresh runtime and exits 0 on SIGTERM
 *   count      print "count handler=H rounds=R fresh=F outside=O"
 *   quit / EOF shut the runtime down, print the results line, exit 0
 *
 * --own-handler installs a SIGUSR1 handler in main (after the agent, which
 * is loaded before main, installed its own) that counts its calls; the
 * agent must chain to it.  "ignore" sets SIG_IGN instead.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "taskdump/taskdump.h"

static td_runtime *rt;
static td_notify never;           /* nobody notifies it */
static atomic_bool quit;          /* set by "quit" or SIGTERM */
static atomic_uint_fast64_t rounds;
static atomic_uint_fast64_t handler_calls;
static unsigned nsleepers = 3;
static atomic_uint started;       /* tasks polled at least once */
static atomic_uint fresh_entries; /* polls that ran fresh's first part */
static atomic_bool fresh_outside; /* ... one of them outside the runtime */

/* ---- tasks ------------------------------------------------------------ */

typedef struct nap {
	td_future base;
	td_async as;
	td_sleep sleep;
} nap;

static td_poll nap_poll(td_future *f, td_context *cx)
{
	nap *n = (nap *)f;
	TD_BEGIN(&n->as);
	td_sleep_init(&n->sleep, 5);
	TD_AWAIT(&n->as, &n->sleep, cx);
	TD_END(&n->as);
}

static void nap_drop(td_future *f)
{
	td_async_drop(&((nap *)f)->as);
}

static const td_future_vtable nap_vtable = {
	.poll = nap_poll, .drop = nap_drop, .type_name = "nap"};

typedef struct sleeper {
	td_future base;
	td_async as;
	nap nap;
} sleeper;

static td_poll sleeper_poll(td_future *f, td_context *cx)
{
	sleeper *s = (sleeper *)f;
	TD_BEGIN(&s->as);
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&quit)) {
		s->nap = (nap){.base = {&nap_vtable}};
		TD_AWAIT(&s->as, &s->nap, cx);
		atomic_fetch_add(&rounds, 1);
	}
	TD_END(&s->as);
}

static void sleeper_drop(td_future *f)
{
	td_async_drop(&((sleeper *)f)->as);
}

static const td_future_vtable sleeper_vtable = {
	.poll = sleeper_poll, .drop = sleeper_drop, .type_name = "sleeper"};

typedef struct waiter {
	td_future base;
	td_async as;
	td_notified notified;
} waiter;

static td_poll waiter_poll(td_future *f, td_context *cx)
{
	waiter *w = (waiter *)f;
	TD_BEGIN(&w->as);
	atomic_fetch_add(&started, 1);
	td_notified_init(&w->notified, &never);
	TD_AWAIT(&w->as, &w->notified, cx);
	TD_END(&w->as);
}

static void waiter_drop(td_future *f)
{
	td_async_drop(&((waiter *)f)->as);
}

static const td_future_vtable waiter_vtable = {
	.poll = waiter_poll, .drop = waiter_drop, .type_name = "waiter"};

/* A task whose code before its first await has effects: a dump must not
 * run it (it has never been polled, so it waits on nothing yet). */
typedef struct fresh {
	td_future base;
	td_async as;
	td_sleep sleep;
} fresh;

static td_poll fresh_poll(td_future *f, td_context *cx)
{
	fresh *t = (fresh *)f;
	TD_BEGIN(&t->as);
	atomic_fetch_add(&fresh_entries, 1);
	if (!td_runtime_current())
		atomic_store(&fresh_outside, true);
	td_sleep_init(&t->sleep, 3600 * 1000);
	TD_AWAIT(&t->as, &t->sleep, cx);
	TD_END(&t->as);
}

static void fresh_drop(td_future *f)
{
	td_async_drop(&((fresh *)f)->as);
}

static const td_future_vtable fresh_vtable = {
	.poll = fresh_poll, .drop = fresh_drop, .type_name = "fresh"};

/* Blocks the calling worker: a poll that does not return for `ms` ms.
 * noinline keeps it in the worker's native stack. */
__attribute__((noinline)) static void block_worker(unsigned ms)
{
	uint64_t end = td_now_ms() + ms;
	for (uint64_t now = td_now_ms(); now < end; now = td_now_ms())
		poll(NULL, 0, (int)(end - now)); /* EINTR: go round */
	__asm__ volatile("" ::: "memory");
}

typedef struct stuck {
	td_future base;
	unsigned ms;
} stuck;

static td_poll stuck_poll(td_future *f, td_context *cx)
{
	(void)cx;
	stuck *s = (stuck *)f;
	printf("stuck %llu entered\n", (unsigned long long)td_task_current_id());
	fflush(stdout);
	block_worker(s->ms);
	printf("stuck %llu left\n", (unsigned long long)td_task_current_id());
	fflush(stdout);
	return TD_READY;
}

static const td_future_vtable stuck_vtable = {
	.poll = stuck_poll, .type_name = "stuck"};

/* The block_on future: says "ready" once every task has been polled,
 * then wakes up now and then until told to quit. */
typedef struct main_wait {
	td_future base;
	td_async as;
	td_sleep tick;
} main_wait;

static td_poll main_wait_poll(td_future *f, td_context *cx)
{
	main_wait *m = (main_wait *)f;
	TD_BEGIN(&m->as);
	while (atomic_load(&started) < nsleepers + 1) {
		td_sleep_init(&m->tick, 1);
		TD_AWAIT(&m->as, &m->tick, cx);
	}
	printf("agent_app: pid %d ready\n", (int)getpid());
	fflush(stdout);
	while (!atomic_load(&quit)) {
		td_sleep_init(&m->tick, 10);
		TD_AWAIT(&m->as, &m->tick, cx);
	}
	TD_END(&m->as);
}

static const td_future_vtable main_wait_vtable = {
	.poll = main_wait_poll, .type_name = "main_wait"};

static int spawn_tasks(void)
{
	for (unsigned i = 0; i < nsleepers; i++) {
		sleeper s = {.base = {&sleeper_vtable}};
		int err = td_spawn_named(rt, "sleeper", &s, NULL);
		if (err)
			return err;
	}
	waiter w = {.base = {&waiter_vtable}};
	return td_spawn_named(rt, "waiter", &w, NULL);
}

/* ---- signals ---------------------------------------------------------- */

static void on_usr1_siginfo(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	atomic_fetch_add(&handler_calls, 1);
}

static void on_usr1_plain(int sig)
{
	(void)sig;
	atomic_fetch_add(&handler_calls, 1);
}

static void on_term(int sig)
{
	(void)sig;
	atomic_store(&quit, true);
}

/* Install the program's own SIGUSR1 handler and check that asking for it
 * back reports it (the agent interposes sigaction/signal). */
static int install_own_handler(const char *how)
{
	struct sigaction sa, q;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	if (strcmp(how, "sigaction") == 0) {
		sa.sa_sigaction = on_usr1_siginfo;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		if (sigaction(SIGUSR1, &sa, NULL) != 0)
			return -1;
		if (sigaction(SIGUSR1, NULL, &q) != 0 ||
		    q.sa_sigaction != on_usr1_siginfo)
			return -1;
	} else if (strcmp(how, "signal") == 0) {
		if (signal(SIGUSR1, on_usr1_plain) == SIG_ERR)
			return -1;
		if (signal(SIGUSR1, on_usr1_plain) != on_usr1_plain)
			return -1;
	} else if (strcmp(how, "ignore") == 0) {
		/* The program ignores the signal: the dump still happens. */
		if (signal(SIGUSR1, SIG_IGN) == SIG_ERR ||
		    signal(SIGUSR1, SIG_IGN) != SIG_IGN)
			return -1;
	} else {
		return -1;
	}
	printf("own handler installed (%s)\n", how);
	return 0;
}

/* ---- runtime ---------------------------------------------------------- */

static void *control(void *arg);

/* Create the runtime, spawn the tasks, say "ready" and run until quit.
 * with_control: start the stdin control thread (not in forked children,
 * which share the parent's stdin). */
static int run_runtime(const td_runtime_config *cfg, bool with_control)
{
	int err = td_runtime_new(cfg, &rt);
	if (err) {
		fprintf(stderr, "agent_app: td_runtime_new: %s\n",
			strerror(-err));
		return 1;
	}
	err = spawn_tasks();
	if (err) {
		fprintf(stderr, "agent_app: spawn: %s\n", strerror(-err));
		return 1;
	}
	pthread_t th;
	if (with_control) {
		if (pthread_create(&th, NULL, control, NULL) != 0)
			return 1;
		pthread_detach(th);
	}
	main_wait m = {.base = {&main_wait_vtable}};
	err = td_runtime_block_on(rt, &m.base, NULL);
	td_runtime_free(rt);
	rt = NULL;
	uint64_t r = atomic_load(&rounds);
	bool ok = err == 0;
	printf("agent_app: results: pid=%d rounds=%llu handler=%llu: %s\n",
	       (int)getpid(), (unsigned long long)r,
	       (unsigned long long)atomic_load(&handler_calls),
	       ok ? "ok" : "MISMATCH");
	fflush(stdout);
	return ok ? 0 : 1;
}

/* The forked child: a runtime of its own (the parent's threads do not
 * exist here), until SIGTERM or the parent's death.  The parent's runtime
 * object is left alone: its memory was copied, its threads were not. */
static void child_main(const td_runtime_config *parent_cfg)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	atomic_store(&quit, false);
	atomic_store(&rounds, 0);
	atomic_store(&started, 0);
	td_notify_init(&never); /* forget the parent's waiter */
	td_runtime_config cfg = *parent_cfg;
	cfg.name = "child";
	cfg.flavor = TD_FLAVOR_CURRENT_THREAD;
	printf("child %d\n", (int)getpid());
	fflush(stdout);
	_exit(run_runtime(&cfg, false));
}

static td_runtime_config config = {.flavor = TD_FLAVOR_MULTI_THREAD,
				   .workers = 2,
				   .name = "app"};
static pid_t children[16];
static unsigned nchildren;

static void do_fork(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork failed: %s\n", strerror(errno));
	} else if (pid == 0) {
		child_main(&config);
	} else if (nchildren < 16) {
		children[nchildren++] = pid;
	}
}

static void *control(void *arg)
{
	(void)arg;
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		unsigned ms;
		if (sscanf(line, "stuck %u", &ms) == 1) {
			stuck s = {.base = {&stuck_vtable}, .ms = ms};
			int err = td_spawn_named(rt, "stuck", &s, NULL);
			if (err)
				printf("spawn failed: %s\n", strerror(-err));
		} else if (strncmp(line, "fresh", 5) == 0) {
			fresh t = {.base = {&fresh_vtable}};
			td_join_handle h;
			int err = td_spawn_named(rt, "fresh", &t, &h);
			if (err)
				printf("spawn failed: %s\n", strerror(-err));
			else
				printf("fresh %llu\n", (unsigned long long)
				       td_join_handle_id(&h));
			td_join_handle_detach(&h);
		} else if (strncmp(line, "fork", 4) == 0) {
			do_fork();
		} else if (strncmp(line, "count", 5) == 0) {
			printf("count handler=%llu rounds=%llu fresh=%u "
			       "outside=%d\n",
			       (unsigned long long)atomic_load(&handler_calls),
			       (unsigned long long)atomic_load(&rounds),
			       atomic_load(&fresh_entries),
			       (int)atomic_load(&fresh_outside));
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			printf("unknown command: %s", line);
		}
		fflush(stdout);
	}
	/* Children end with the parent; reap them for a clean exit status. */
	for (unsigned i = 0; i < nchildren; i++) {
		int st;
		kill(children[i], SIGTERM);
		if (waitpid(children[i], &st, 0) == children[i] &&
		    !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			printf("child %d failed: status 0x%x\n",
			       (int)children[i], st);
	}
	atomic_store(&quit, true);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *own = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (strcmp(argv[i], "--current-thread") == 0) {
			config.flavor = TD_FLAVOR_CURRENT_THREAD;
		} else if (strcmp(argv[i], "--workers") == 0) {
			config.workers = (unsigned)atoi(v);
			i++;
		} else if (strcmp(argv[i], "--sleepers") == 0) {
			nsleepers = (unsigned)atoi(v);
			i++;
		} else if (strcmp(argv[i], "--own-handler") == 0) {
			own = v;
			i++;
		} else if (strcmp(argv[i], "--name") == 0) {
			config.name = v;
			i++;
		} else {
			fprintf(stderr, "agent_app: bad option %s\n", argv[i]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (own && install_own_handler(own) != 0) {
		fprintf(stderr, "agent_app: own handler: failed\n");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	td_notify_init(&never);
	return run_runtime(&config, true);
}
