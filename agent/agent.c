/* agent.c - libtaskdump_agent.so: load, wait for signals, dump.
 *
 *     LD_PRELOAD=libtaskdump_agent.so ./app
 *     kill -USR1 <pid>          (or: taskdump dump <pid>)
 *     cat taskdump-<pid>-1.txt
 *
 * Until a signal arrives the agent does nothing the program could notice:
 * its one thread blocks every signal and waits for the dump signal in
 * sigwaitinfo(); it holds no descriptor (signals.c says how a request
 * reaches it).  Signals that arrive while a dump is being taken are
 * coalesced into one more dump after it.  A forked child gets an agent of
 * its own (new thread, sequence numbers from 1 under its own pid); a fork
 * never waits for a dump, nor a dump for a fork.  Set-user-ID and other
 * secure-execution programs are left alone.
 *
 * The agent thread has a file system context of its own (unshare
 * CLONE_FS), its working directory the program's at load: a relative
 * TASKDUMP_DIR is resolved there, whatever chdir() the program does, and
 * `taskdump dump` finds it as /proc/<pid>/task/<agent tid>/cwd.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static struct agent_config config;
static bool started;
static unsigned next_seq = 1;
/* The program's working directory when the agent was loaded (where a
 * relative TASKDUMP_DIR points; a forked child's agent thread goes back
 * there).  Empty when unknown or not needed. */
static char start_cwd[PATH_MAX];
/* Held while a dump is taken, so that an exiting process can give a dump
 * in progress a moment (agent_unload).  fork() does not take it: a child
 * re-initialises it (nothing of the parent's dump is the child's). */
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;

/* Own working directory for the thread, when TASKDUMP_DIR is relative:
 * the start directory (already the current one in the first process; a
 * child's copy is the forking thread's, so it goes back). */
static void own_cwd(void)
{
	if (config.dir[0] == '\0' || config.dir[0] == '/')
		return;
	if (unshare(CLONE_FS) != 0)
		return; /* (seccomp, say) resolved against the shared cwd */
	if (start_cwd[0] && chdir(start_cwd) != 0)
		return; /* removed meanwhile: the current one, as before */
}

/* Take every signal of the request that is already pending, so that they
 * make one dump (realtime signals queue one per kill). */
static void drain(const sigset_t *set)
{
	const struct timespec zero = {0, 0};
	while (sigtimedwait(set, NULL, &zero) > 0)
		;
}

static void *agent_thread(void *arg)
{
	sem_t *ready = arg;
	sigset_t set;

	own_cwd();
	sigemptyset(&set);
	sigaddset(&set, config.signal);
	agent_signals_set_thread((pid_t)syscall(SYS_gettid));
	sem_post(ready); /* `ready` is gone after this */
	for (;;) {
		int64_t requested_ns, also;
		if (!agent_signals_take_request(&requested_ns)) {
			if (sigwaitinfo(&set, NULL) < 0)
				continue; /* EINTR (a stop and continue) */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			requested_ns = (int64_t)ts.tv_sec * 1000000000 +
				       ts.tv_nsec;
			/* Passed on by the handler: its time is earlier. */
			if (agent_signals_take_request(&also))
				requested_ns = also;
		}
		drain(&set);
		(void)agent_signals_take_request(&also); /* same request */
		pthread_mutex_lock(&dump_lock);
		agent_dump_to_file(&config, requested_ns, &next_seq);
		pthread_mutex_unlock(&dump_lock);
	}
	return NULL;
}

/* Start the agent thread with every signal blocked in it, and wait until
 * it is ready (its tid known, its working directory its own). */
static int start_thread(void)
{
	sigset_t all, old;
	pthread_t th;
	pthread_attr_t attr;
	sem_t ready;

	if (sem_init(&ready, 0, 0) != 0)
		return errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Room for libdw (line tables are parsed with large stack frames)
	 * after the static TLS, which glibc takes from the same allocation
	 * and which a sanitizer makes large (TSan's: about 90 KiB; with 256
	 * KiB, dwarf_getsrclines overflowed the stack).  Untouched pages
	 * cost nothing. */
	pthread_attr_setstacksize(&attr, 2 * 1024 * 1024);
	int err = pthread_create(&th, &attr, agent_thread, &ready);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0) {
		pthread_setname_np(th, "taskdump-agent");
		while (sem_wait(&ready) != 0 && errno == EINTR)
			;
	}
	sem_destroy(&ready);
	return err;
}

static void after_fork_child(void)
{
	/* The parent's agent thread is not here; a dump it was taking is
	 * the parent's. */
	pthread_mutex_init(&dump_lock, NULL);
	agent_signals_reset_after_fork();
	agent_dump_after_fork_child();
	next_seq = 1;
	if (start_thread() != 0)
		fprintf(stderr, "taskdump: agent: no agent thread in the "
				"forked child; dumps are disabled there\n");
}

/* Exit: a dump requested just before the program ended gets a moment to
 * finish (its file is complete then); after that no dump starts any more
 * and the temporary file of one still running is removed, so that exiting
 * never leaves a partial file behind.  dump_lock stays held: the agent
 * thread dies with the process.  (Fix: the temporary file used to stay.) */
__attribute__((destructor)) static void agent_unload(void)
{
	if (!started)
		return;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 500 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_timedlock(&dump_lock, &until);
	agent_dump_abandon();
}

__attribute__((constructor)) static void agent_load(void)
{
	if (getauxval(AT_SECURE))
		return; /* set-user-ID or similar: leave it alone */
	agent_config_load(&config);
	if (config.dir[0] && config.dir[0] != '/' &&
	    !getcwd(start_cwd, sizeof(start_cwd)))
		start_cwd[0] = '\0';
	/* The handler first: a request that comes before the thread is
	 * recorded, and the thread finds it when it starts. */
	int err = agent_signals_install(config.signal);
	if (err) {
		fprintf(stderr, "taskdump: agent disabled: signal %d: %s\n",
			config.signal, strerror(-err));
		return;
	}
	err = start_thread();
	if (err) {
		fprintf(stderr, "taskdump: agent disabled: thread: %s\n",
			strerror(err));
		return;
	}
	started = true;
	pthread_atfork(NULL, NULL, after_fork_child);
}
