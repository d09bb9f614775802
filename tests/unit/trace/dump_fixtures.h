/* dump_fixtures.h - helpers shared by the task-dump tests (test_dump_*.c).
 *
 * - the two flavors every case runs on (current-thread, and multi-thread
 *   with two workers) and runtime creation;
 * - a "driver": a plain thread inside td_runtime_block_on() whose future
 *   waits on a notify until the test stops it.  A current-thread runtime
 *   needs one to run its tasks at all; on a multi-thread runtime it gives
 *   every dump a block_on entry to check;
 * - polling helpers (the machine is small and loaded: never a fixed sleep
 *   where a condition can be polled);
 * - lookups in a td_dump, trace-shape assertions that accept a child's
 *   poll inlined into its parent (same names, `inlined` set), and
 *   fx_check_consistent(), the invariants every dump must satisfy.
 *
 * FX_PRINT=1 in the environment prints every dump fx_print() is given.
 */
#ifndef TD_TEST_DUMP_FIXTURES_H
#define TD_TEST_DUMP_FIXTURES_H

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "taskdump/dump.h"
#include "taskdump/future.h"
#include "taskdump/notify.h"
#include "taskdump/runtime.h"

/* FX_TSAN: built with ThreadSanitizer, which delivers asynchronous
 * signals to a thread only when it next enters an intercepted call: a
 * thread blocked in read(2) does not answer the stack signal in time. */
#if defined(__SANITIZE_THREAD__)
#define FX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FX_TSAN 1
#endif
#endif
#ifndef FX_TSAN
#define FX_TSAN 0
#endif

/* Await `child` like TD_AWAIT and store this source line in `line_var`
 * (an atomic_int), for comparison with the line a dump shows for the
 * awaiting frame.  Keep the invocation on one line. */
#define FX_AWAIT_AT(line_var, as, child, cx)                                \
	atomic_store_explicit(&(line_var), __LINE__, memory_order_relaxed); \
	TD_AWAIT(as, child, cx)

/* The poll functions of the runtime's leaves, as dumps name them (the
 * last frame of a trace). */
#define FX_LEAF_SLEEP "td_sleep_poll"
#define FX_LEAF_JOIN "td_join_poll"
#define FX_LEAF_READ "td_io_read_poll"
#define FX_LEAF_YIELD "td_yield_poll"
#define FX_LEAF_NOTIFY "td_notified_poll"
#define FX_LEAF_ONESHOT "td_oneshot_recv_poll"
#define FX_LEAF_MPSC_RECV "td_mpsc_recv_poll"
#define FX_LEAF_MUTEX "td_mutex_lock_poll"

/* td_spawn_named(rt, name, fut, out), storing in `line` (an int lvalue)
 * the source line the spawn records (the same __LINE__ expansion). */
#define FX_SPAWN_NAMED(line, rt, name, fut, out) \
	((line) = __LINE__, td_spawn_named(rt, name, fut, out))

/* ---- flavors ----------------------------------------------------------- */

#define FX_NFLAVORS 2

struct fx_flavor {
	td_flavor flavor;
	unsigned workers;   /* as configured */
	unsigned nworkers;  /* as the dump lists them */
	const char *flavor_name;
};

extern const struct fx_flavor fx_flavors[FX_NFLAVORS];

/* A runtime of flavor fx_flavors[i] named `name`; asserts success. */
td_runtime *fx_runtime_new(int i, const char *name);

/* ---- the block_on driver ------------------------------------------------ */

typedef struct fx_driver fx_driver;

/* Start a thread that runs td_runtime_block_on(rt, main) and return once
 * the main future has been polled (so it is listed in every later dump). */
fx_driver *fx_driver_start(td_runtime *rt);

/* Let the main future complete, join the thread (asserting block_on
 * returned 0) and free the driver. */
void fx_driver_stop(fx_driver *d);

/* Name of the main future's poll function and the line of its await. */
#define FX_MAIN_POLL "fx_main_poll"
int fx_main_await_line(void);

/* ---- polling ------------------------------------------------------------ */

/* Poll cond(arg) every millisecond or so until it is true or timeout_ms
 * passed; returns its last value. */
bool fx_wait_until(bool (*cond)(void *arg), void *arg, unsigned timeout_ms);

/* Wait until *counter >= want (timeout_ms at most); returns whether. */
bool fx_wait_count(atomic_int *counter, int want, unsigned timeout_ms);

/* Take dumps of rt (options `o`, NULL: defaults) until ok(d, arg) holds,
 * for at most timeout_ms; every dump is checked with fx_check_consistent.
 * Returns the dump that satisfied ok (the caller frees it); fails the test
 * with `what` in the message when none did. */
td_dump *fx_dump_until(td_runtime *rt, const td_dump_options *o,
		       bool (*ok)(const td_dump *d, void *arg), void *arg,
		       unsigned timeout_ms, const char *what);

/* Sleep for ms milliseconds (only where time itself is under test). */
void fx_sleep_ms(unsigned ms);

/* ---- looking into a dump ---------------------------------------------- */

/* The runtime with id `id`, or NULL. */
const td_dump_runtime *fx_find_runtime(const td_dump *d, uint64_t id);

/* The task entry with id `id` (not a block_on entry), or NULL. */
const td_dump_task *fx_find_task(const td_dump_runtime *r, uint64_t id);

/* The first block_on entry, or NULL. */
const td_dump_task *fx_find_block_on(const td_dump_runtime *r);

/* The one runtime of a dump of one runtime (asserts there is one). */
const td_dump_runtime *fx_only_runtime(const td_dump *d);

/* True when every task in ids[0..n-1] is listed, idle, traced, with at
 * least one trace and `min_polls` real polls. */
bool fx_tasks_idle(const td_dump_runtime *r, const uint64_t *ids, size_t n,
		   uint64_t min_polls);

/* The part of `path` after its last '/'. */
const char *fx_basename(const char *path);

/* ---- trace shapes ------------------------------------------------------- */

/* The trace's function names joined by " > " into buf (outermost first). */
const char *fx_trace_names(const td_dump_trace *t, char *buf, size_t size);

/* Assert the trace's function names, outermost first, are exactly
 * names[0..n-1] (whether children were inlined or not). */
void fx_assert_names(const td_dump_trace *t, const char *const *names,
		     size_t n);

/* Index of the first frame named `fn` at or after `from`, or -1. */
int fx_frame_index(const td_dump_trace *t, const char *fn, size_t from);

/* Assert frame `fn` of the trace exists, and lies in this file (basename
 * `file`) at line `line`. */
void fx_assert_frame_at(const td_dump_trace *t, const char *fn,
			const char *file, int line);

/* True when some frame of the list is named `fn`. */
bool fx_frames_contain(const td_dump_frame *f, size_t n, const char *fn);

/* ---- invariants -------------------------------------------------------- */

/* Check what must hold for every dump, whatever the program did:
 * version, counts (ntasks, traced), every entry traced or with a reason,
 * block_on entries first then ids strictly increasing, states and queues
 * meaningful, traces non-empty with a function name on every frame,
 * workers' states.  Fails the test (with `ctx` in the message) otherwise. */
void fx_check_consistent(const td_dump *d, const char *ctx);

/* Write the dump as text (and JSON) into memory and check the text starts
 * with the version line; returns the text (free it). */
char *fx_text(const td_dump *d);
char *fx_json(const td_dump *d);

/* Print the dump as text on stderr when FX_PRINT is set. */
void fx_print(const td_dump *d, const char *title);

#endif /* TD_TEST_DUMP_FIXTURES_H */
