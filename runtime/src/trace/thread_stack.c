/* thread_stack.c - another thread's registers and stack, undisturbed (see
 * thread_stack.h). */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif

#include "trace/thread_stack.h"

/* The most of a blocked thread's stack that is copied: deeper frames are
 * not unwound. */
#define STACK_COPY_MAX (512u * 1024u)
/* Below the stack pointer: the red zone a leaf function may use. */
#define BELOW_SP 256u
/* Readings of a blocked thread that may disagree before giving up. */
#define TRIES 4
/* perf: one sample per 100 us of the thread's CPU time; the largest user
 * stack a sample can carry (a sample record is at most 64 KiB). */
#define SAMPLE_PERIOD_NS 100000
#define SAMPLE_STACK 65528u
#define RING_PAGES 32u
/* How often a wait for a sample looks again at /proc (the thread may have
 * blocked meanwhile: then it is never sampled). */
#define RECHECK_MS 5

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(char *why, size_t len, const char *fmt, const char *arg)
{
	if (why && len)
		snprintf(why, len, fmt, arg);
}

void td_thread_snapshot_free(struct td_thread_snapshot *s)
{
	free(s->stack);
	s->stack = NULL;
	s->stack_len = 0;
}

/* ---- a thread blocked in the kernel ----------------------------------- */

/* Copy [sp - BELOW_SP, top) of the stack; top is the stack's end when
 * known, else at most STACK_COPY_MAX above sp. */
static int copy_stack(struct td_thread_snapshot *out, uintptr_t sp,
		      uintptr_t lo, uintptr_t hi)
{
	uintptr_t base = sp - BELOW_SP;
	if (lo && base < lo)
		base = lo;
	uintptr_t top = hi && hi > sp ? hi : sp + STACK_COPY_MAX;
	if (top - base > STACK_COPY_MAX)
		top = base + STACK_COPY_MAX;
	size_t len = top - base;
	unsigned char *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ssize_t n = td_copy_own_memory(buf, base, len);
	if (n <= 0) {
		free(buf);
		return n < 0 ? (int)n : -EFAULT;
	}
	free(out->stack);
	out->stack = buf;
	out->stack_base = base;
	out->stack_len = (size_t)n;
	return 0;
}

/* sys says the thread is off-CPU: copy its stack and check that it did
 * not move meanwhile.  1: done; 0: it moved (try again); -errno. */
static int take_blocked(pid_t tid, const struct td_thread_syscall *sys,
			uintptr_t lo, uintptr_t hi,
			struct td_thread_snapshot *out)
{
	int err = copy_stack(out, sys->sp, lo, hi);
	if (err)
		return err;
	struct td_thread_syscall again;
	err = td_thread_syscall_read(tid, &again);
	if (err)
		return err;
	if (!td_thread_syscall_same(sys, &again))
		return 0;
	memset(out->regs, 0, sizeof(out->regs));
	out->regs[TD_REG_SP] = sys->sp;
	out->regs[TD_REG_PC] = sys->pc;
	out->regs_known = 1u << TD_REG_SP | 1u << TD_REG_PC;
	out->sys = *sys;
	out->source = "syscall registers";
	return 1;
}

/* ---- a running thread: one perf sample ------------------------------- */

#if defined(__x86_64__)

/* The registers asked for, in the order a sample lists them (ascending
 * perf register number), and where each goes in DWARF numbering. */
static const struct {
	int perf, dwarf;
} sample_regs[] = {
	{PERF_REG_X86_AX, 0},  {PERF_REG_X86_BX, 3},  {PERF_REG_X86_CX, 2},
	{PERF_REG_X86_DX, 1},  {PERF_REG_X86_SI, 4},  {PERF_REG_X86_DI, 5},
	{PERF_REG_X86_BP, 6},  {PERF_REG_X86_SP, 7},  {PERF_REG_X86_IP, 16},
	{PERF_REG_X86_R8, 8},  {PERF_REG_X86_R9, 9},  {PERF_REG_X86_R10, 10},
	{PERF_REG_X86_R11, 11}, {PERF_REG_X86_R12, 12}, {PERF_REG_X86_R13, 13},
	{PERF_REG_X86_R14, 14}, {PERF_REG_X86_R15, 15},
};
#define NSAMPLE_REGS (sizeof(sample_regs) / sizeof(sample_regs[0]))

static uint64_t sample_regs_mask(void)
{
	uint64_t m = 0;
	for (size_t i = 0; i < NSAMPLE_REGS; i++)
		m |= 1ull << sample_regs[i].perf;
	return m;
}

static void perf_refused(int err, char *why, size_t len)
{
	if (err == EACCES || err == EPERM) {
		char level[16] = "?";
		int fd = open("/proc/sys/kernel/perf_event_paranoid",
			      O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, level, sizeof(level) - 1);
			level[n > 0 ? n : 0] = '\0';
			level[strcspn(level, "\n")] = '\0';
			close(fd);
		}
		say(why, len,
		    "the thread is running, and perf events, which sample it "
		    "without disturbing it, are not permitted here "
		    "(kernel.perf_event_paranoid=%s)",
		    level);
	} else if (err == EMFILE || err == ENFILE) {
		say(why, len, "%s", "no descriptor left to sample the running "
				    "thread (too many open files)");
	} else {
		say(why, len,
		    "the thread is running, and perf events, which sample it "
		    "without disturbing it, are not available here (%s)",
		    strerror(err));
	}
}

/* Copy len bytes at ring offset off (wrapping). */
static void ring_copy(void *dst, const unsigned char *data, size_t size,
		      uint64_t off, size_t len)
{
	size_t at = (size_t)(off % size);
	size_t first = len < size - at ? len : size - at;
	memcpy(dst, data + at, first);
	memcpy((unsigned char *)dst + first, data, len - first);
}

/* The first sample in the ring, into out.  1: found; 0: none yet. */
static int read_sample(void *map, size_t page, struct td_thread_snapshot *out)
{
	struct perf_event_mmap_page *meta = map;
	const unsigned char *data = (const unsigned char *)map + page;
	size_t size = (size_t)RING_PAGES * page;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;

	while (tail + sizeof(struct perf_event_header) <= head) {
		struct perf_event_header h;
		ring_copy(&h, data, size, tail, sizeof(h));
		if (h.size < sizeof(h) || tail + h.size > head)
			break;
		if (h.type != PERF_RECORD_SAMPLE) {
			tail += h.size;
			continue;
		}
		unsigned char *rec = malloc(h.size);
		if (!rec)
			return -ENOMEM;
		ring_copy(rec, data, size, tail, h.size);
		/* ip, pid/tid, regs (abi + values), stack (size, data,
		 * dyn_size) - the order perf writes them in. */
		size_t at = sizeof(h) + 8 + 8;
		uint64_t abi;
		memcpy(&abi, rec + at, 8);
		at += 8;
		if (abi == PERF_SAMPLE_REGS_ABI_NONE ||
		    at + NSAMPLE_REGS * 8 + 8 > h.size) {
			free(rec); /* no user registers: not user code */
			tail += h.size;
			continue;
		}
		memset(out->regs, 0, sizeof(out->regs));
		for (size_t i = 0; i < NSAMPLE_REGS; i++)
			memcpy(&out->regs[sample_regs[i].dwarf],
			       rec + at + i * 8, 8);
		out->regs_known = (1u << TD_NREGS) - 1;
		at += NSAMPLE_REGS * 8;
		uint64_t ssize, dyn = 0;
		memcpy(&ssize, rec + at, 8);
		at += 8;
		if (ssize && at + ssize + 8 <= h.size)
			memcpy(&dyn, rec + at + ssize, 8);
		if (dyn > ssize)
			dyn = ssize;
		free(out->stack);
		out->stack = NULL;
		out->stack_len = 0;
		out->stack_base = (uintptr_t)out->regs[TD_REG_SP];
		if (dyn) {
			out->stack = malloc(dyn);
			if (out->stack) {
				memcpy(out->stack, rec + at, dyn);
				out->stack_len = dyn;
			}
		}
		free(rec);
		out->sys.where = TD_THREAD_RUNNING;
		out->source = "perf sample";
		return 1;
	}
	return 0;
}

/* Sample the running thread.  1: done; 0: it blocked meanwhile (look at
 * /proc again); -errno with why. */
static int take_running(pid_t tid, int64_t deadline,
			struct td_thread_snapshot *out, char *why,
			size_t len)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = SAMPLE_PERIOD_NS;
	a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	a.sample_regs_user = sample_regs_mask();
	a.sample_stack_user = SAMPLE_STACK;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.wakeup_events = 1;
	int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
			      PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		perf_refused(err, why, len);
		return -err;
	}
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t maplen = (1 + RING_PAGES) * page;
	void *map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
	if (map == MAP_FAILED) {
		int err = errno;
		close(fd);
		say(why, len, "the sample buffer could not be mapped (%s)",
		    strerror(err));
		return -err;
	}
	int r = 0;
	for (;;) {
		r = read_sample(map, page, out);
		if (r != 0)
			break;
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		(void)poll(&p, 1, left < RECHECK_MS ? (int)left : RECHECK_MS);
		if (p.revents & POLLIN)
			continue;
		struct td_thread_syscall s;
		if (td_thread_syscall_read(tid, &s) == 0 &&
		    s.where != TD_THREAD_RUNNING)
			break; /* r == 0: it blocked, never to be sampled */
	}
	munmap(map, maplen);
	close(fd);
	if (r == -ETIMEDOUT) {
		say(why, len, "%s", "the running thread got no CPU time to be "
				    "sampled before the dump's deadline");
	} else if (r < 0) {
		say(why, len, "the sample could not be read (%s)",
		    strerror(-r));
	}
	return r;
}

#else /* !__x86_64__ */

static int take_running(pid_t tid, int64_t deadline,
			struct td_thread_snapshot *out, char *why, size_t len)
{
	(void)tid, (void)deadline, (void)out;
	say(why, len, "%s", "a running thread's stack is sampled on x86-64 "
			    "only");
	return -ENOSYS;
}

#endif

/* ---- either ----------------------------------------------------------- */

int td_thread_snapshot_take(pid_t tid, uintptr_t stack_lo, uintptr_t stack_hi,
			    unsigned timeout_ms, struct td_thread_snapshot *out,
			    char *why, size_t len)
{
	int64_t deadline = mono_ms() + timeout_ms;
	memset(out, 0, sizeof(*out));
	say(why, len, "%s", "");
	for (int tries = 0;; tries++) {
		struct td_thread_syscall sys;
		int r = td_thread_syscall_read(tid, &sys);
		if (r == -EMFILE || r == -ENFILE) {
			say(why, len, "%s", "no descriptor left to read the "
					    "thread's state (too many open "
					    "files)");
			return r;
		}
		if (r) {
			say(why, len, "the thread's state is unreadable (%s)",
			    strerror(-r));
			return r;
		}
		if (sys.where == TD_THREAD_RUNNING)
			r = take_running(tid, deadline, out, why, len);
		else
			r = take_blocked(tid, &sys, stack_lo, stack_hi, out);
		if (r == 1)
			return 0;
		if (r < 0) {
			if (why && !why[0])
				say(why, len, "the stack could not be copied "
					      "(%s)", strerror(-r));
			td_thread_snapshot_free(out);
			return r;
		}
		if (tries + 1 >= TRIES || mono_ms() >= deadline) {
			say(why, len, "%s", "the thread kept moving between "
					    "running and blocking");
			td_thread_snapshot_free(out);
			return -EAGAIN;
		}
	}
}

int td_thread_stack_self(uintptr_t *ips, size_t max)
{
	int n = unw_backtrace((void **)ips, (int)max);
	return n < 0 ? 0 : n;
}
