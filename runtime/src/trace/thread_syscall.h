/* thread_syscall.h - internal: what another thread of this process is
 * doing in the kernel, read without disturbing it.
 *
 * /proc/self/task/<tid>/syscall says, for a thread that is not on a CPU,
 * the system call it is blocked in (number and six argument registers) and
 * its user stack pointer and program counter; for a thread that is on a
 * CPU (or runnable) just "running".  Reading it neither stops nor signals
 * the thread: the kernel copies the registers it saved when the thread
 * entered the kernel.  That is what lets a dump report a worker blocked in
 * sleep(), read() or a futex, and unwind its stack (thread_stack.h), with
 * no effect on the call.
 */
#ifndef TD_TRACE_THREAD_SYSCALL_H
#define TD_TRACE_THREAD_SYSCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum td_thread_where {
	TD_THREAD_RUNNING = 0, /* on a CPU or runnable: no registers known */
	TD_THREAD_IN_SYSCALL,  /* blocked in system call `nr` */
	TD_THREAD_BLOCKED,     /* off-CPU, not in a system call (a fault) */
};

struct td_thread_syscall {
	enum td_thread_where where;
	long nr;           /* TD_THREAD_IN_SYSCALL */
	uint64_t args[6];  /* TD_THREAD_IN_SYSCALL */
	uintptr_t sp, pc;  /* not TD_THREAD_RUNNING */
};

/* Read thread `tid`'s state.  Returns 0, or -errno (-ENOENT: no such
 * thread; -EMFILE: no descriptor left to open the file). */
int td_thread_syscall_read(pid_t tid, struct td_thread_syscall *out);

/* Two readings show the thread at the same place. */
bool td_thread_syscall_same(const struct td_thread_syscall *a,
			    const struct td_thread_syscall *b);

/* A blocked call, described for a dump. */
struct td_syscall_info {
	const char *name;  /* "nanosleep", or NULL: not in a system call */
	long nr;
	int fd;            /* the descriptor it waits on, -1: none */
	char fd_target[96];/* what fd is ("pipe:[123]", a path), "" unknown */
	int64_t timeout_ms;/* requested timeout (relative calls) or time left
			    * to the deadline (absolute ones); -1: none */
};

/* Describe s (reading the timeout a pointer argument designates from the
 * thread's memory, safely) as of CLOCK_MONOTONIC/REALTIME now. */
void td_thread_syscall_describe(const struct td_thread_syscall *s,
				struct td_syscall_info *out);

/* The name of system call nr on this architecture, or NULL. */
const char *td_syscall_name(long nr);

/* Copy len bytes at addr of this process into buf without faulting on an
 * unmapped address (process_vm_readv, else /proc/self/mem).  Returns the
 * bytes copied (possibly fewer) or -errno. */
ssize_t td_copy_own_memory(void *buf, uintptr_t addr, size_t len);

#endif /* TD_TRACE_THREAD_SYSCALL_H */
