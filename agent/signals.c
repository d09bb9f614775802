/* signals.c - the agent's signal handler, and keeping it installed.
 *
 * The handler is async-signal-safe: it records the request (an atomic store
 * and a clock read), writes to the agent thread's eventfd, preserves errno,
 * and then runs whatever handler the program wants for that signal.
 *
 * The program may install its own handler for our signal after the agent
 * was loaded (LD_PRELOAD constructors run before main).  So the agent
 * interposes sigaction(), signal() and their aliases: for our signal they
 * record the program's wish - which the handler then chains to - and report
 * it back as if it were installed, while the agent's handler stays in
 * place.  These interposers are the only symbols the agent exports besides
 * td_ ones; every other signal goes straight to libc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn real_sigaction;
static _Atomic int agent_signal; /* 0: not active */

/* The program's handler for our signal.  Two slots: writers fill the
 * inactive one and flip `app_slot`, so the handler always reads a whole
 * struct (writers are the program's sigaction calls, rarely concurrent). */
static struct sigaction app_actions[2];
static _Atomic int app_slot;

static _Atomic int wake_fd = -1;
static _Atomic int pending;
static _Atomic int64_t request_ns;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction app = app_actions[atomic_load(&app_slot)];
	if (app.sa_flags & SA_SIGINFO) {
		if (app.sa_sigaction)
			app.sa_sigaction(sig, si, uc);
		return;
	}
	/* SIG_DFL: the default action would end the program; with the
	 * agent loaded the signal means "dump", so nothing more happens. */
	if (app.sa_handler != SIG_DFL && app.sa_handler != SIG_IGN)
		app.sa_handler(sig);
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	int64_t zero = 0;
	atomic_compare_exchange_strong(&request_ns, &zero, mono_ns());
	atomic_store(&pending, 1);
	int fd = atomic_load(&wake_fd);
	if (fd >= 0) {
		uint64_t one = 1;
		ssize_t r = write(fd, &one, sizeof(one));
		(void)r;
	}
	chain(sig, si, uc);
	errno = saved;
}

static sigaction_fn get_real_sigaction(void)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	return real_sigaction;
}

int agent_signals_install(int sig, int fd)
{
	sigaction_fn real = get_real_sigaction();
	if (!real)
		return -ENOSYS;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	atomic_store(&wake_fd, fd);
	if (real(sig, &sa, &old) != 0)
		return -errno;
	/* A handler installed before us (by another preloaded library, or
	 * inherited SIG_IGN) is chained. */
	app_actions[0] = old;
	atomic_store(&app_slot, 0);
	atomic_store(&agent_signal, sig);
	return 0;
}

void agent_signals_set_fd(int fd)
{
	atomic_store(&wake_fd, fd);
}

bool agent_signals_take_request(int64_t *requested_ns)
{
	if (!atomic_exchange(&pending, 0))
		return false;
	*requested_ns = atomic_exchange(&request_ns, 0);
	if (*requested_ns == 0)
		*requested_ns = mono_ns();
	return true;
}

void agent_signals_reset_after_fork(void)
{
	atomic_store(&pending, 0);
	atomic_store(&request_ns, 0);
}

/* ---- interposers ----------------------------------------------------- */

static bool is_ours(int sig)
{
	int s = atomic_load(&agent_signal);
	return s != 0 && sig == s;
}

__attribute__((visibility("default"))) int
sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	sigaction_fn real = get_real_sigaction();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (!is_ours(sig))
		return real(sig, act, old);
	int cur = atomic_load(&app_slot);
	if (old)
		*old = app_actions[cur];
	if (act) {
		app_actions[!cur] = *act;
		atomic_store(&app_slot, !cur);
	}
	return 0;
}

static sighandler_t set_app_handler(int sig, sighandler_t h, int flags)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	/* A previous SA_SIGINFO handler is reported through sa_handler,
	 * which shares its storage, as glibc's signal() does. */
	return old.sa_handler;
}

__attribute__((visibility("default"))) sighandler_t signal(int sig,
							   sighandler_t h)
{
	return set_app_handler(sig, h, SA_RESTART);
}

__attribute__((visibility("default"))) sighandler_t bsd_signal(int sig,
							       sighandler_t h)
{
	return set_app_handler(sig, h, SA_RESTART);
}

__attribute__((visibility("default"))) sighandler_t sysv_signal(int sig,
								sighandler_t h)
{
	return set_app_handler(sig, h, SA_RESETHAND | SA_NODEFER);
}
