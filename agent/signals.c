/* signals.c - the dump signal: the handler, and the program's own wishes
 * for that signal, kept exactly.
 *
 * How a request reaches the agent thread.  The agent thread blocks every
 * signal and waits for the dump signal in sigwaitinfo() (agent.c); no
 * descriptor is involved, so a program that closes or reuses every
 * descriptor cannot be harmed.  A request arrives in one of two ways:
 *
 *  - sent to the agent thread itself (`taskdump dump` uses tgkill), or sent
 *    to the process while every other thread blocks the signal: it stays
 *    pending and sigwaitinfo() takes it; no handler runs anywhere;
 *  - sent to the process (`kill -USR1`) and delivered to a program thread
 *    that does not block it: the handler below runs there, records the
 *    request (atomic stores) and passes it on to the agent thread with
 *    tgkill().  The handler does nothing else of its own: no descriptor,
 *    no lock, no allocation; errno is preserved.
 *
 * The program's own wishes.  The program may install a handler for our
 * signal before or after the agent was loaded (LD_PRELOAD constructors run
 * before main).  The agent interposes sigaction(), signal() and their
 * aliases: for our signal the program's action is recorded, reported back
 * to it as installed, and applied to the kernel as closely as a dump
 * allows:
 *
 *  - a handler of the program's: the kernel runs ours with the program's
 *    sa_mask and flags (SA_RESTART, SA_NODEFER, SA_ONSTACK as it asked;
 *    SA_RESETHAND emulated: the first delivery resets the program's action
 *    to SIG_DFL), and ours calls the program's.  So a program that relies
 *    on EINTR (no SA_RESTART) to break a thread out of a blocking call
 *    gets it.  A signal the process sent itself (raise, kill(getpid()),
 *    pthread_kill, sigqueue) while it has a handler of its own is the
 *    program's business: it runs that handler and asks for no dump.
 *  - SIG_IGN: installed in the kernel as it is, so that it is inherited
 *    through exec as it would be without the agent, and a `kill` is
 *    ignored as the program asked.  The agent thread, which blocks the
 *    signal, still receives requests sent to it (tgkill: `taskdump dump`).
 *  - SIG_DFL: our handler stays (with SA_RESTART): with the agent loaded
 *    the dump signal asks for a dump instead of ending the process.
 *    exec resets it to SIG_DFL, as it would without the agent.
 *
 * A program that needs the signal for purposes of its own (sigwait() on
 * it, say) should give the agent another one: TASKDUMP_SIGNAL.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn real_sigaction;
static _Atomic int agent_signal; /* 0: not active */

/* The program's action for our signal, as it set it.  Two slots: writers
 * (under `app_writer`, a spin flag: sigaction is async-signal-safe, so no
 * mutex) fill the inactive one and flip `app_slot`, so the handler always
 * reads a whole struct. */
static struct sigaction app_actions[2];
static _Atomic int app_slot;
static atomic_flag app_writer = ATOMIC_FLAG_INIT;

/* Requests passed on by the handler: `pending` is set, then the agent
 * thread (`agent_tid`, 0 while there is none) is signalled.  The thread
 * publishes its tid, then checks `pending`, then waits: one of the two
 * sides sees the other (sequentially consistent atomics). */
static _Atomic int pending;
static _Atomic int64_t request_ns;
static _Atomic pid_t agent_tid;

/* Raw system calls: the handler may run inside a sanitizer's runtime or
 * any libc function; these go through no interceptor and no lock. */
static pid_t raw_getpid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

static int64_t mono_ns_raw(void)
{
	struct timespec ts;
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* sa_handler and sa_sigaction share their storage; the kernel reads
 * SIG_DFL (0) and SIG_IGN (1) there whatever the flags say. */
static bool is_ignore(const struct sigaction *sa)
{
	return sa->sa_handler == SIG_IGN;
}

static bool is_handler(const struct sigaction *sa)
{
	return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

static void handler(int sig, siginfo_t *si, void *uc);

/* Put the kernel action that serves the program's action `app`. */
static int apply(int sig, const struct sigaction *app)
{
	struct sigaction k;

	memset(&k, 0, sizeof(k));
	if (is_ignore(app)) {
		k.sa_handler = SIG_IGN;
		sigemptyset(&k.sa_mask);
	} else if (is_handler(app)) {
		k.sa_sigaction = handler;
		k.sa_mask = app->sa_mask;
		k.sa_flags = SA_SIGINFO | (app->sa_flags & (SA_RESTART |
							    SA_NODEFER |
							    SA_ONSTACK));
	} else { /* SIG_DFL */
		k.sa_sigaction = handler;
		sigemptyset(&k.sa_mask);
		k.sa_flags = SA_SIGINFO | SA_RESTART;
	}
	return real_sigaction(sig, &k, NULL) == 0 ? 0 : -errno;
}

/* Record the program's new action (and apply it); *old gets the previous
 * one.  Returns 0 or -errno; -EAGAIN when `wait` is false and another
 * writer is at it (the handler, which may have interrupted that writer on
 * its own thread, must not spin). */
static int set_app_action(int sig, const struct sigaction *act,
			  struct sigaction *old, bool wait)
{
	while (atomic_flag_test_and_set(&app_writer)) {
		if (!wait)
			return -EAGAIN;
		/* another thread's sigaction: a few instructions */
	}
	int cur = atomic_load(&app_slot);
	if (old)
		*old = app_actions[cur];
	int err = 0;
	if (act) {
		err = apply(sig, act);
		if (err == 0) {
			app_actions[!cur] = *act;
			atomic_store(&app_slot, !cur);
		}
	}
	atomic_flag_clear(&app_writer);
	return err;
}

void agent_signals_request(void)
{
	int64_t zero = 0;
	atomic_compare_exchange_strong(&request_ns, &zero, mono_ns_raw());
	atomic_store(&pending, 1);
	pid_t tid = atomic_load(&agent_tid);
	int sig = atomic_load(&agent_signal);
	if (tid > 0 && sig > 0)
		syscall(SYS_tgkill, raw_getpid(), tid, sig);
}

/* Sent by the process to itself (the kernel fills si_pid for these). */
static bool self_sent(const siginfo_t *si)
{
	return si && (si->si_code == SI_USER || si->si_code == SI_TKILL ||
		      si->si_code == SI_QUEUE) &&
	       si->si_pid == raw_getpid();
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct sigaction app = app_actions[atomic_load(&app_slot)];
	bool own = is_handler(&app);

	if (!(own && self_sent(si)))
		agent_signals_request();
	if (own) {
		if (app.sa_flags & SA_RESETHAND) {
			/* What the kernel would have done on entry. */
			struct sigaction dfl;
			memset(&dfl, 0, sizeof(dfl));
			dfl.sa_handler = SIG_DFL;
			sigemptyset(&dfl.sa_mask);
			set_app_action(sig, &dfl, NULL, false);
		}
		errno = saved;
		if (app.sa_flags & SA_SIGINFO)
			app.sa_sigaction(sig, si, uc);
		else
			app.sa_handler(sig);
		saved = errno;
	}
	errno = saved;
}

static sigaction_fn get_real_sigaction(void)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	return real_sigaction;
}

int agent_signals_install(int sig)
{
	if (!get_real_sigaction())
		return -ENOSYS;
	/* What was there before us (inherited SIG_IGN, or a handler of
	 * another preloaded library) is the program's action. */
	struct sigaction old;
	if (real_sigaction(sig, NULL, &old) != 0)
		return -errno;
	app_actions[0] = old;
	atomic_store(&app_slot, 0);
	int err = apply(sig, &old);
	if (err)
		return err;
	atomic_store(&agent_signal, sig);
	return 0;
}

bool agent_signals_ignored(void)
{
	return is_ignore(&app_actions[atomic_load(&app_slot)]);
}

void agent_signals_set_thread(pid_t tid)
{
	atomic_store(&agent_tid, tid);
}

bool agent_signals_take_request(int64_t *requested_ns)
{
	if (!atomic_exchange(&pending, 0))
		return false;
	*requested_ns = atomic_exchange(&request_ns, 0);
	if (*requested_ns == 0)
		*requested_ns = mono_ns_raw();
	return true;
}

void agent_signals_reset_after_fork(void)
{
	atomic_store(&agent_tid, 0);
	atomic_store(&pending, 0);
	atomic_store(&request_ns, 0);
	atomic_flag_clear(&app_writer);
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
	if (!get_real_sigaction()) {
		errno = ENOSYS;
		return -1;
	}
	if (!is_ours(sig))
		return real_sigaction(sig, act, old);
	int err = set_app_action(sig, act, old, true);
	if (err) {
		errno = -err;
		return -1;
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

/* glibc's signal() and bsd_signal(): SA_RESTART, the signal blocked while
 * its handler runs; sysv_signal(): SA_RESETHAND | SA_NODEFER. */
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
