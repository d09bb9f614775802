/* thread_stack.h - internal: the native stack of another thread of this
 * process, for a worker that is stuck in a long poll.
 *
 * The thread is sent a real-time signal (td_stack_signal()) carrying a
 * magic value; its handler unwinds from the interrupted context (libunwind
 * from the signal frame, or a frame-pointer walk confined to the stack
 * bounds when that fails) into a preallocated buffer - no allocation - and
 * signals completion.  One capture at a time (callers serialize).  A handler the
 * program installed for the same signal keeps receiving every signal that
 * is not ours.
 */
#ifndef TD_TRACE_THREAD_STACK_H
#define TD_TRACE_THREAD_STACK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* SIGRTMIN + 7 (glibc keeps the first real-time signals for itself). */
int td_stack_signal(void);

/* Capture thread `th` (Linux tid `tid`): ips[0] is the interrupted
 * instruction, the rest return addresses, innermost first.  The stack
 * bounds [lo, hi) confine the walk; lo == hi means unknown (then only the
 * interrupted instruction is reported).  Returns the number of addresses,
 * or -ETIMEDOUT (the thread did not answer within timeout_ms: the signal is
 * blocked or the thread is stopped), or another -errno. */
int td_thread_stack_capture(pthread_t th, pid_t tid, uintptr_t lo,
			    uintptr_t hi, uintptr_t *ips, size_t max,
			    unsigned timeout_ms);

/* The calling thread's own stack (innermost first, return addresses after
 * ips[0]), via libunwind. */
int td_thread_stack_self(uintptr_t *ips, size_t max);

#endif /* TD_TRACE_THREAD_STACK_H */
