/* unwind.c - unwinding a thread snapshot with libdw (see unwind.h).
 *
 * libdwfl unwinds a "thread" through callbacks: its initial registers
 * (set_initial_registers) and its memory (memory_read).  The Dwfl is the
 * process's symbolizer's, attached once (dwfl_attach_state) with callbacks
 * that read the request in progress: one at a time, under the dump lock.
 */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "trace/collector.h"
#include "trace/thread_syscall.h"
#include "trace/unwind.h"

/* Frame records looked for above the last known stack pointer. */
#define SCAN_BYTES (64u * 1024u)
#define MAX_CANDIDATES 32

struct unwind_req {
	const struct td_thread_snapshot *snap;
	uint64_t bp;       /* used when the snapshot lacks rbp */
	bool have_bp;
	uintptr_t *ips;
	size_t n, max;
	uint64_t last_sp;  /* rsp of the outermost frame reached */
	bool reached_root;
};

/* The request being unwound; the Dwfl attached to our callbacks. */
static struct unwind_req *current;
static Dwfl *attached;

static bool read_word(const struct td_thread_snapshot *snap, uint64_t addr,
		      uint64_t *out)
{
	if (addr >= snap->stack_base &&
	    addr - snap->stack_base + 8 <= snap->stack_len) {
		memcpy(out, snap->stack + (addr - snap->stack_base), 8);
		return true;
	}
	return td_copy_own_memory(out, (uintptr_t)addr, 8) == 8;
}

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	(void)dwfl, (void)arg, (void)thread_arg;
	return 0; /* threads are named by dwfl_getthread_frames only */
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg,
			  void **thread_arg)
{
	(void)dwfl, (void)tid, (void)arg;
	*thread_arg = NULL;
	return current != NULL;
}

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			   void *arg)
{
	(void)dwfl, (void)arg;
	uint64_t v;
	if (!current || !read_word(current->snap, addr, &v))
		return false;
	*result = v;
	return true;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	(void)arg;
	const struct td_thread_snapshot *snap = current->snap;
	for (int i = 0; i < TD_REG_PC; i++) {
		Dwarf_Word v = snap->regs[i];
		bool known = snap->regs_known & (1u << i);
		if (i == TD_REG_BP && !known && current->have_bp) {
			v = current->bp;
			known = true;
		}
		if (known && !dwfl_thread_state_registers(thread, i, 1, &v))
			return false;
	}
	dwfl_thread_state_register_pc(thread, snap->regs[TD_REG_PC]);
	return true;
}

static const Dwfl_Thread_Callbacks callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct unwind_req *r = arg;
	Dwarf_Addr pc;
	bool activation;
	if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0)
		return DWARF_CB_ABORT;
	Dwarf_Word sp;
	if (dwfl_frame_reg(state, TD_REG_SP, &sp) == 0)
		r->last_sp = sp;
	r->ips[r->n++] = (uintptr_t)pc;
	/* A return address lies after its call: root's own frame is the
	 * one whose address minus one is inside it. */
	if (td_trace_ip_in_root((uintptr_t)pc - (r->n > 1 ? 1 : 0)))
		r->reached_root = true;
	return r->n < r->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static int run(Dwfl *dwfl, void *arg)
{
	struct unwind_req *r = arg;
	if (attached != dwfl) {
		if (!dwfl_attach_state(dwfl, NULL, getpid(), &callbacks, NULL))
			return -ENOTSUP;
		attached = dwfl;
	}
	r->n = 0;
	r->reached_root = false;
	r->last_sp = r->snap->regs[TD_REG_SP];
	current = r;
	/* Ends with an error where the unwinder cannot go on (an unknown
	 * register, the end of the stack): what it reached is the stack. */
	(void)dwfl_getthread_frames(dwfl, getpid(), on_frame, r);
	current = NULL;
	return 0;
}

/* A return address: code whose preceding bytes are a call instruction
 * (e8 rel32; ff /2 with a ModRM of 2, 3, 6 or 7 bytes in all). */
static bool after_call(uint64_t ret)
{
	unsigned char b[8];
	if (ret < 8 || td_copy_own_memory(b, (uintptr_t)ret - 8, 8) != 8)
		return false;
	if (b[3] == 0xe8)
		return true;
	static const int lens[] = {2, 3, 6, 7};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int at = 8 - lens[i];
		if (b[at] == 0xff && ((b[at + 1] >> 3) & 7) == 2)
			return true;
	}
	return false;
}

/* Try frame records above r->last_sp as the missing rbp. */
static void search_frame_pointer(struct td_symbolizer *s,
				 struct unwind_req *r)
{
	const struct td_thread_snapshot *snap = r->snap;
	uintptr_t end = snap->stack_base + snap->stack_len;
	uint64_t from = (r->last_sp + 15) & ~(uint64_t)15;
	struct unwind_req best = *r;
	uintptr_t ips_best[256];
	size_t keep = r->n < 256 ? r->n : 256;
	memcpy(ips_best, r->ips, keep * sizeof(*r->ips));
	int tried = 0;

	for (uint64_t p = from; p + 16 <= end && p < from + SCAN_BYTES &&
				tried < MAX_CANDIDATES;
	     p += 16) {
		uint64_t saved, ret;
		if (!read_word(snap, p, &saved) || !read_word(snap, p + 8, &ret))
			continue;
		if (saved <= p || saved >= end || (saved & 15) != 0 ||
		    !after_call(ret))
			continue;
		tried++;
		r->bp = p;
		r->have_bp = true;
		td_symbolizer_with_dwfl(s, run, r);
		if (r->reached_root)
			return;
	}
	/* None proven: back to what the first walk reached. */
	*r = best;
	r->n = keep;
	memcpy(r->ips, ips_best, keep * sizeof(*r->ips));
}

int td_unwind_snapshot(struct td_symbolizer *s,
		       const struct td_thread_snapshot *snap, uintptr_t *ips,
		       size_t max, const char **note)
{
	*note = NULL;
	if (!(snap->regs_known & (1u << TD_REG_PC)) || max == 0)
		return -EINVAL;
	struct unwind_req r = {.snap = snap, .ips = ips, .max = max};
	if (!s) {
		ips[0] = snap->regs[TD_REG_PC];
		*note = "no unwinder (the process's modules could not be read)";
		return 1;
	}
	int err = td_symbolizer_with_dwfl(s, run, &r);
	if (err) {
		ips[0] = snap->regs[TD_REG_PC];
		*note = "the unwinder could not start";
		return 1;
	}
	if (!r.reached_root && !(snap->regs_known & (1u << TD_REG_BP)))
		search_frame_pointer(s, &r);
	if (r.n == 0) {
		ips[0] = snap->regs[TD_REG_PC];
		r.n = 1;
	}
	if (!r.reached_root)
		*note = "unwound partly: the frames below do not reach the "
			"task's trace root";
	return (int)r.n;
}
