/* unwind.h - internal: the native stack of a thread snapshot
 * (thread_stack.h), unwound with the call-frame information of the
 * process's modules (libdw), reading the stack from the snapshot's copy.
 *
 * A snapshot of a thread blocked in the kernel knows only its stack
 * pointer and program counter.  That is enough through frames whose
 * canonical frame address is computed from the stack pointer (system call
 * wrappers, code built without frame pointers); the first frame that
 * computes it from rbp, which the kernel does not show, needs that
 * register's value.  It is the address of that frame's own frame record
 * ({caller's rbp, return address}): the unwinder looks for it above the
 * last stack pointer known, tries each plausible record (16-byte aligned,
 * pointing up the stack, followed by a return address right after a call
 * instruction) and accepts the first that unwinds through the task's
 * trace root (td_trace_root_poll, which every polled future of a worker
 * is under).  A stack that cannot be proven that way is reported as far
 * as it could be unwound, and says so.
 */
#ifndef TD_TRACE_UNWIND_H
#define TD_TRACE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "trace/symbolize.h"
#include "trace/thread_stack.h"

/* Unwind snap: ips[0] is the thread's exact program counter, the rest
 * return addresses, innermost first.  Returns how many (>= 1 when the
 * snapshot has a pc), or -errno; *note is NULL or says why the stack
 * stops early (static text). */
int td_unwind_snapshot(struct td_symbolizer *s,
		       const struct td_thread_snapshot *snap, uintptr_t *ips,
		       size_t max, const char **note);

#endif /* TD_TRACE_UNWIND_H */
