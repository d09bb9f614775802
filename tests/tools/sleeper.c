/* sleeper.c - a program whose main thread sleeps in nanosleep(), which a
 * signal always cuts short (EINTR, whatever SA_RESTART says), for the test
 * that `taskdump dump` interrupts no thread of the program
 * (test_e2e_interrupt.sh).
 *
 *   sleeper STOPFILE [--accepting-thread]
 *
 * Run with the agent preloaded.  It prints "sleeper: pid N ready", then
 * its main thread sleeps (up to 120 s) until STOPFILE appears: a helper
 * thread (every signal blocked) then wakes it with SIGUSR2, its own
 * signal.  The last line says how the sleep ended:
 *   "sleeper: not interrupted (N ms, until told to stop)"   exit 0
 *   "sleeper: slept the full 120 s"                         exit 0
 *   "sleeper: nanosleep interrupted (EINTR) after N ms"     exit 1
 *
 * --accepting-thread adds a thread named "taskdump-agent" that blocks
 * every signal but SIGUSR1 (as the agent's own thread does once it takes
 * the requests itself): the signal must go to that thread. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static pthread_t main_thread;
static const char *stopfile;
static sem_t accepting_ready;

static void on_usr2(int sig)
{
	(void)sig;
	stop = 1;
}

static void block_all_but(int keep)
{
	sigset_t set;

	sigfillset(&set);
	if (keep)
		sigdelset(&set, keep);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
}

static void *stopper(void *arg)
{
	(void)arg;
	block_all_but(0);
	while (access(stopfile, F_OK) != 0)
		usleep(10000);
	pthread_kill(main_thread, SIGUSR2);
	return NULL;
}

static void *accepting(void *arg)
{
	(void)arg;
	block_all_but(SIGUSR1);
	sem_post(&accepting_ready);
	for (;;)
		pause();
	return NULL;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
	struct timespec req = {.tv_sec = 120}, t0;
	struct sigaction sa;
	pthread_t th;

	if (argc < 2) {
		fprintf(stderr, "usage: sleeper STOPFILE [--accepting-thread]\n");
		return 2;
	}
	stopfile = argv[1];
	main_thread = pthread_self();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	/* The threads start with every signal blocked and set their own
	 * masks; main takes signals again once they are ready. */
	block_all_but(0);
	sem_init(&accepting_ready, 0, 0);
	if (pthread_create(&th, NULL, stopper, NULL) != 0)
		return 2;
	if (argc > 2 && strcmp(argv[2], "--accepting-thread") == 0) {
		if (pthread_create(&th, NULL, accepting, NULL) != 0)
			return 2;
		pthread_setname_np(th, "taskdump-agent");
		while (sem_wait(&accepting_ready) != 0)
			;
	}
	sigemptyset(&sa.sa_mask);
	pthread_sigmask(SIG_SETMASK, &sa.sa_mask, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sleeper: pid %d ready\n", (int)getpid());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (nanosleep(&req, NULL) == 0) {
		printf("sleeper: slept the full 120 s\n");
		return 0;
	}
	if (errno == EINTR && stop) {
		printf("sleeper: not interrupted (%ld ms, until told to "
		       "stop)\n", ms_since(&t0));
		return 0;
	}
	printf("sleeper: nanosleep interrupted (%s) after %ld ms\n",
	       errno == EINTR ? "EINTR" : strerror(errno), ms_since(&t0));
	return 1;
}
