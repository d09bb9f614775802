/* agent.c - libtaskdump_agent.so: load, wait for signals, dump.
 *
 *     LD_PRELOAD=libtaskdump_agent.so ./app
 *     kill -USR1 <pid>
 *     cat taskdump-<pid>-1.txt
 *
 * Until a signal arrives the agent does nothing the program could notice:
 * its one thread sleeps in read() on an eventfd, with every signal blocked.
 * Signals that arrive while a dump is being taken are coalesced into one
 * more dump after it.  A forked child gets an agent of its own (new
 * eventfd, new thread, sequence numbers from 1 under its own pid).
 * Set-user-ID and other secure-execution programs are left alone.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static struct agent_config config;
static int wake_fd = -1;
static unsigned next_seq = 1;
/* Held while a dump is taken; fork waits for it (pthread_atfork), so a
 * child never inherits a half-taken dump. */
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;

static void *agent_thread(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t v;
		ssize_t r = read(wake_fd, &v, sizeof(v));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return NULL; /* the eventfd is gone: stop quietly */
		int64_t requested_ns;
		while (agent_signals_take_request(&requested_ns)) {
			pthread_mutex_lock(&dump_lock);
			agent_dump_to_file(&config, requested_ns, &next_seq);
			pthread_mutex_unlock(&dump_lock);
		}
	}
}

/* Start the agent thread with every signal blocked in it. */
static int start_thread(void)
{
	sigset_t all, old;
	pthread_t th;
	pthread_attr_t attr;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int err = pthread_create(&th, &attr, agent_thread, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0)
		pthread_setname_np(th, "taskdump-agent");
	return err;
}

static void before_fork(void)
{
	pthread_mutex_lock(&dump_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&dump_lock);
}

static void after_fork_child(void)
{
	/* The parent's eventfd is shared with it: take our own. */
	pthread_mutex_init(&dump_lock, NULL);
	agent_signals_reset_after_fork();
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0) {
		agent_signals_set_fd(-1);
		return;
	}
	int old = wake_fd;
	wake_fd = fd;
	agent_signals_set_fd(fd);
	close(old);
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
	if (wake_fd < 0)
		return; /* never started */
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
	wake_fd = eventfd(0, EFD_CLOEXEC);
	if (wake_fd < 0) {
		fprintf(stderr, "taskdump: agent disabled: eventfd: %s\n",
			strerror(errno));
		return;
	}
	int err = start_thread();
	if (err) {
		fprintf(stderr, "taskdump: agent disabled: thread: %s\n",
			strerror(err));
		close(wake_fd);
		wake_fd = -1;
		return;
	}
	err = agent_signals_install(config.signal, wake_fd);
	if (err) {
		fprintf(stderr, "taskdump: agent disabled: signal %d: %s\n",
			config.signal, strerror(-err));
		return;
	}
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
