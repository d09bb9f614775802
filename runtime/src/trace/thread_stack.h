/* thread_stack.h - internal: the registers and a copy of the stack of
 * another thread of this process, taken without stopping, signalling or
 * otherwise disturbing it, for a worker stuck in a long poll.
 *
 * Two sources, chosen by what the thread is doing (thread_syscall.h):
 *
 *  - blocked in the kernel (a system call, or any other sleep): the kernel
 *    saved its user stack pointer and program counter on entry and shows
 *    them in /proc/self/task/<tid>/syscall.  The thread cannot touch its
 *    stack while it sleeps, so a copy of [sp, stack top) is consistent if
 *    a second reading after the copy shows the same call at the same
 *    place.  Only sp and pc are known: the unwinder recovers the rest
 *    (trace/unwind.h).
 *  - running (CPU-bound): one sample of a perf software clock event bound
 *    to that thread (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER): the
 *    kernel copies every user register and the top of the user stack at a
 *    timer tick, in interrupt context.  The thread notices nothing: no
 *    signal, no stop, no system call of it is touched.  This needs perf
 *    events for one's own threads (kernel.perf_event_paranoid <= 2, or
 *    CAP_PERFMON); where the kernel refuses, there is no native stack and
 *    the reason says so.
 *
 * Neither source can make a system call of the thread return early or
 * with EINTR - the reason a signal is never used (a signal handler ends
 * nanosleep, poll, epoll_wait and friends with EINTR whatever SA_RESTART
 * says).  Every descriptor used (the /proc file, the perf event) is opened
 * and closed within the call, close-on-exec.
 */
#ifndef TD_TRACE_THREAD_STACK_H
#define TD_TRACE_THREAD_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "trace/thread_syscall.h"

/* DWARF register numbers (x86-64 psABI): 0 rax, 1 rdx, 2 rcx, 3 rbx,
 * 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8..15 r8..r15, 16 the return address (rip). */
#define TD_REG_BP 6
#define TD_REG_SP 7
#define TD_REG_PC 16
#define TD_NREGS 17

struct td_thread_snapshot {
	uint64_t regs[TD_NREGS];
	uint32_t regs_known;       /* bit i: regs[i] is known */
	/* A copy of the thread's memory [stack_base, stack_base + stack_len):
	 * from a little below its stack pointer up (not necessarily to the
	 * top of the stack). */
	uintptr_t stack_base;
	size_t stack_len;
	unsigned char *stack;      /* malloc()ed; td_thread_snapshot_free */
	/* What the thread was doing: in a system call (sys.where ==
	 * TD_THREAD_IN_SYSCALL, with its arguments), or running. */
	struct td_thread_syscall sys;
	const char *source;        /* "syscall registers" or "perf sample" */
};

/* Take a snapshot of thread `tid`, whose stack is [stack_lo, stack_hi)
 * (0, 0: unknown; then at most a fixed size is copied), waiting at most
 * timeout_ms for a running thread to be sampled.  Returns 0, or -errno
 * with a one-line reason in why[len] (e.g. "perf events not permitted
 * (kernel.perf_event_paranoid=3)"). */
int td_thread_snapshot_take(pid_t tid, uintptr_t stack_lo, uintptr_t stack_hi,
			    unsigned timeout_ms, struct td_thread_snapshot *out,
			    char *why, size_t len);

void td_thread_snapshot_free(struct td_thread_snapshot *s);

/* The calling thread's own stack (innermost first, return addresses after
 * ips[0]), via libunwind. */
int td_thread_stack_self(uintptr_t *ips, size_t max);

#endif /* TD_TRACE_THREAD_STACK_H */
