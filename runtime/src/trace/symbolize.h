/* symbolize.h - internal: instruction pointers to source frames (libdw).
 *
 * A symbolizer turns the raw return addresses a trace capture recorded in
 * this process into function / file:line frames, with every inlined call
 * expanded into a frame of its own.  It uses elfutils' libdwfl on the
 * process's own mappings (/proc/self/maps) and caches the answer per
 * address, so symbolizing a dump of 100 000 tasks (a few dozen distinct
 * addresses) costs a few dozen real look-ups and hash-table hits after that.
 *
 * Never call it while tasks are paused for a dump: the first look-up in a
 * module reads its DWARF (a fraction of a millisecond per address, cold).
 *
 * Thread safety: an instance is used by one thread at a time (no internal
 * lock); separate instances may be used from different threads at once.
 * Creating one only reads /proc/self/{maps,auxv}; no thread is stopped,
 * nothing is ptrace()d.  The instance keeps file descriptors of the
 * modules it has read open (close-on-exec) until td_symbolizer_free(); it
 * records each with its file's identity, so that a program that closed
 * them (or reused their numbers) is noticed before any is used again.
 *
 * Debug information is searched locally only: in the module itself, by
 * build-id under /usr/lib/debug/.build-id/, and through .gnu_debuglink
 * (next to the module, in its .debug/ and under /usr/lib/debug/).  Remote
 * debuginfod servers are never queried, even with DEBUGINFOD_URLS set: a
 * dump must not wait for the network.
 */
#ifndef TD_TRACE_SYMBOLIZE_H
#define TD_TRACE_SYMBOLIZE_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One source frame.  Every string is owned by the symbolizer and stays
 * valid until td_symbolizer_free(). */
typedef struct td_sym_frame {
	/* Never NULL: the function name (DWARF, else the ELF symbol), else
	 * "module+0xoffset" (no symbol covers the address), else "0xaddr"
	 * (no module maps the address). */
	const char *function;
	/* Source file as the compiler was given it (what __FILE__ says in
	 * that file; may be absolute, may start with "../"); NULL when
	 * unknown. */
	const char *file;
	int line, column;        /* 0 when unknown */
	/* This frame was inlined into the next (outer) frame of the same
	 * address; the last frame of an address is never inlined. */
	bool inlined;
	/* Basename of the ELF module ("libc.so.6", "[vdso]"); NULL when no
	 * module maps the address. */
	const char *module;
	/* The captured address as a virtual address of the module's ELF file
	 * (ip - load bias): what `addr2line -e module` takes. */
	uintptr_t module_offset;
	/* ip - start of the ELF symbol containing it (0: no symbol).  Set on
	 * the out-of-line (last) frame only. */
	uintptr_t symbol_offset;
	/* DWARF described this frame (name, scope or line). */
	bool has_debuginfo;
} td_sym_frame;

struct td_symbolizer;

/* A symbolizer for this process: reports its mappings to libdwfl (about
 * half a millisecond).  Debug information is read lazily, per module, on
 * its first look-up.  Returns NULL, errno set, when out of memory or when
 * libdwfl cannot read /proc/self/maps (EMFILE: no descriptor left). */
struct td_symbolizer *td_symbolizer_new(void);

/* The frames of one captured address, innermost first: for an address in
 * a function inlined into another you get [the inlined callee (inlined),
 * ..., the out-of-line function that contains them], each with its own
 * file:line (an outer frame's line is the call site of the frame before
 * it).  `ip` is a return address when is_return_address is true (every
 * address unw_backtrace() gives is one): the look-up then uses ip - 1 so
 * that the call's line is reported, not the line after it; offsets and
 * the "0xaddr" fallback still show `ip` itself.
 *
 * Always yields at least one frame.  A module mapped after the symbolizer
 * was created (dlopen) is found: on an address no known module covers,
 * the mappings are reported again if the dynamic loader's counters moved.
 * Results are cached per (ip, is_return_address): a second call returns
 * the same array.  *frames stays valid until td_symbolizer_free().
 *
 * Returns 0, -EINVAL (a NULL argument) or -ENOMEM. */
int td_symbolize(struct td_symbolizer *s, uintptr_t ip, bool is_return_address,
		 const td_sym_frame **frames, size_t *nframes);

/* Re-read the mappings if the dynamic loader loaded or unloaded an object
 * since the last report, and then forget the cached answers (arrays
 * returned before stay valid).  Costs one dl_iterate_phdr() step when
 * nothing changed: call it once before each dump when a symbolizer is kept
 * across dumps, so that an unloaded library's cached frames are not reused
 * for another one mapped at the same address.
 * Returns 1 (re-read), 0 (nothing changed) or -ENOMEM / -EIO. */
int td_symbolizer_refresh(struct td_symbolizer *s);

/* Free the symbolizer, its cache and every frame and string it returned
 * (NULL is ignored). */
void td_symbolizer_free(struct td_symbolizer *s);

/* The process's own symbolizer, kept across dumps so that only the first
 * dump pays for the mappings and each module's DWARF: refreshed when the
 * loader's counters moved (dlopen/dlclose), and replaced - setting
 * *renewed - when the program closed or reused a descriptor it held (the
 * old Dwfl is then abandoned, never ended: ending it would close the
 * program's files).  Callers serialize (the dump lock).  NULL when none
 * can be created. */
struct td_symbolizer *td_symbolizer_shared(bool *renewed);

/* In a child of fork(): `mid_dump` when the fork came while a dump used
 * the shared symbolizer (its state may be half-updated): it is left be
 * and the child's first dump starts afresh. */
void td_symbolizer_after_fork_child(bool mid_dump);

/* Every descriptor the symbolizer holds still refers to the file it
 * opened. */
bool td_symbolizer_fds_intact(const struct td_symbolizer *s);

/* Why a module could not be opened since the last td_symbolizer_shared()
 * (out of descriptors or memory: e.g. "symbolization could not open
 * /usr/lib/libc.so.6: Too many open files"), or NULL. */
const char *td_symbolizer_open_error(const struct td_symbolizer *s);

/* Run fn on the symbolizer's Dwfl (for unwinding with the same modules,
 * trace/unwind.c), so that files libdwfl opens meanwhile are recorded as
 * the symbolizer's.  Returns fn's result. */
int td_symbolizer_with_dwfl(struct td_symbolizer *s,
			    int (*fn)(Dwfl *dwfl, void *arg), void *arg);

#endif /* TD_TRACE_SYMBOLIZE_H */
