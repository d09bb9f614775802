/* thread_stack.c - the native stack of another thread (see thread_stack.h). */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "trace/thread_stack.h"

#define STACK_MAGIC 0x7464756d /* "tdum" */
#define MAX_FRAMES 128

enum { REQ_IDLE, REQ_WAITING, REQ_WRITING, REQ_DONE };

/* The one request in flight.  `state` hands the buffer between the
 * requester and the handler: the handler writes only after moving
 * WAITING -> WRITING; a requester that gives up moves WAITING -> IDLE. */
static struct {
	_Atomic uint32_t state;
	_Atomic pid_t tid;
	uintptr_t lo, hi;
	uintptr_t ips[MAX_FRAMES];
	size_t n;
} req;

static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

int td_stack_signal(void)
{
	return SIGRTMIN + 7;
}

/* Hand a signal that is not ours to whoever had the signal before. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	if (previous.sa_flags & SA_SIGINFO) {
		if (previous.sa_sigaction)
			previous.sa_sigaction(sig, si, uc);
	} else if (previous.sa_handler == SIG_DFL) {
		/* The default action of a real-time signal terminates. */
		signal(sig, SIG_DFL);
		raise(sig);
	} else if (previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
	}
}

/* Frame-pointer walk from the interrupted context: the fallback when
 * libunwind cannot start from the signal frame.  Loses the caller of a
 * function interrupted before it set up its frame. */
static size_t walk_frame_pointers(const ucontext_t *uc, size_t n)
{
	uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];

	if (req.lo == req.hi)
		return n;
	/* Frame records are {saved rbp, return address}, at increasing
	 * addresses towards the stack base. */
	while (n < MAX_FRAMES && fp >= req.lo && fp + 16 <= req.hi &&
	       (fp & 7) == 0) {
		const uintptr_t *frame = (const uintptr_t *)fp;
		uintptr_t ret = frame[1], next = frame[0];
		if (ret == 0)
			break;
		req.ips[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

/* Unwind the interrupted code with its call-frame information (right
 * also inside functions without a frame pointer, such as system call
 * wrappers).  libunwind's local unwinding is async-signal-safe: it takes
 * its own locks with signals blocked and allocates nothing. */
static void walk(ucontext_t *uc)
{
	unw_cursor_t cursor;
	size_t n = 0;

	req.ips[n++] = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (unw_init_local2(&cursor, (unw_context_t *)uc,
			    UNW_INIT_SIGNAL_FRAME) == 0) {
		while (n < MAX_FRAMES && unw_step(&cursor) > 0) {
			unw_word_t ip;
			if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || !ip)
				break;
			req.ips[n++] = (uintptr_t)ip;
		}
	}
	if (n == 1)
		n = walk_frame_pointers(uc, n);
	req.n = n;
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	bool ours = si->si_code == SI_QUEUE &&
		    si->si_value.sival_int == STACK_MAGIC &&
		    si->si_pid == getpid();
	if (!ours) {
		chain(sig, si, ucv);
		errno = saved;
		return;
	}
	/* Ours, but maybe late: a request that timed out (this thread did
	 * not answer in time), or meant for another thread.  Never chain it:
	 * with no program handler the default action would end the process. */
	if ((pid_t)syscall(SYS_gettid) != atomic_load(&req.tid)) {
		errno = saved;
		return;
	}
	uint32_t expect = REQ_WAITING;
	if (atomic_compare_exchange_strong(&req.state, &expect, REQ_WRITING)) {
		walk(ucv);
		atomic_store(&req.state, REQ_DONE);
		syscall(SYS_futex, (uint32_t *)&req.state, FUTEX_WAKE_PRIVATE,
			1, NULL, NULL, 0);
	}
	errno = saved;
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(td_stack_signal(), &sa, &previous) != 0)
		install_error = -errno;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int td_thread_stack_capture(pthread_t th, pid_t tid, uintptr_t lo,
			    uintptr_t hi, uintptr_t *ips, size_t max,
			    unsigned timeout_ms)
{
	pthread_once(&install_once, install);
	if (install_error)
		return install_error;

	atomic_store(&req.tid, tid);
	req.lo = lo;
	req.hi = hi;
	req.n = 0;
	atomic_store(&req.state, REQ_WAITING);
	union sigval v = {.sival_int = STACK_MAGIC};
	int err = pthread_sigqueue(th, td_stack_signal(), v);
	if (err) {
		atomic_store(&req.state, REQ_IDLE);
		return -err;
	}
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		uint32_t s = atomic_load(&req.state);
		if (s == REQ_DONE)
			break;
		uint64_t now = now_ms();
		if (s == REQ_WAITING && now >= deadline) {
			uint32_t expect = REQ_WAITING;
			if (atomic_compare_exchange_strong(&req.state, &expect,
							   REQ_IDLE))
				return -ETIMEDOUT;
			continue; /* the handler is writing: wait for it */
		}
		struct timespec ts = {0, 2000000}; /* 2 ms */
		syscall(SYS_futex, (uint32_t *)&req.state, FUTEX_WAIT_PRIVATE,
			s, &ts, NULL, 0);
	}
	size_t n = req.n < max ? req.n : max;
	memcpy(ips, req.ips, n * sizeof(*ips));
	atomic_store(&req.state, REQ_IDLE);
	return (int)n;
}

int td_thread_stack_self(uintptr_t *ips, size_t max)
{
	int n = unw_backtrace((void **)ips, (int)max);
	return n < 0 ? 0 : n;
}
