/* capture.c - trace roots, the leaf hook's slow path and td_trace_capture.
 *
 * How a backtrace is cut out of the native stack
 * ----------------------------------------------
 * While a task is polled the native stack reads, innermost first:
 *
 *     td_trace_record_leaf_at   <- this file (skipped)
 *     td_sleep_poll             <- the leaf         (kept: ips[0])
 *     level3_poll ... level1_poll                   (kept)
 *     td_trace_root_poll        <- the trace root   (stop, not kept)
 *     scheduler frames ...                          (never reached)
 *
 * unw_backtrace() (libunwind's cached fast path, ~11 ns a frame) gives the
 * return addresses.  We skip those inside this file's recording functions
 * and stop at the first one inside td_trace_root_poll.  Both address ranges
 * come from unw_get_proc_info_by_ip() once, so no symbol is ever looked up
 * while tasks are paused.
 *
 * The runtime's own leaves reach td_trace_record_leaf_at by a tail call
 * (trace/leaf.h), so their frame is usually gone from the stack: they pass
 * an address inside themselves, which becomes ips[0].  Where the compiler
 * made it a plain call, the leaf's frame comes first and is dropped (its
 * function's range is looked up once per collector).
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "trace/bigmem.h"
#include "trace/collector.h"
#include "trace/leaf.h"

__thread struct td_collector *td_tls_collector
	__attribute__((tls_model("initial-exec")));
__thread int td_tls_budget __attribute__((tls_model("initial-exec"))) = -1;
__thread td_wait td_tls_leaf_wait __attribute__((tls_model("initial-exec")));

/* A trace root's stack frame.  Roots nest (a task polled for tracing from
 * inside another poll), forming a list through the stack. */
struct td_frame {
	struct td_frame *parent;
	void *frame_address; /* the root's own frame: the stack boundary */
};

/* The innermost root on this thread's stack, or NULL. */
static __thread struct td_frame *tls_active_frame
	__attribute__((tls_model("initial-exec")));

struct ip_range {
	uintptr_t start, end; /* [start, end); start == end: unknown */
};

static struct ip_range root_range;   /* td_trace_root_poll */
static struct ip_range record_range; /* td_trace_record_leaf */
static struct ip_range record_at_range; /* td_trace_record_leaf_at */
static struct ip_range leaf_api_range; /* td_trace_leaf */
static pthread_once_t ranges_once = PTHREAD_ONCE_INIT;

static struct ip_range range_of(void *fn)
{
	unw_proc_info_t pi;
	struct ip_range r = {0, 0};

	if (unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)fn, &pi,
				    NULL) == 0) {
		r.start = (uintptr_t)pi.start_ip;
		r.end = (uintptr_t)pi.end_ip;
	}
	return r;
}

static void load_ranges(void)
{
	root_range = range_of((void *)td_trace_root_poll);
	record_range = range_of((void *)td_trace_record_leaf);
	record_at_range = range_of((void *)td_trace_record_leaf_at);
	leaf_api_range = range_of((void *)td_trace_leaf);
}

void td_trace_init_ranges(void)
{
	pthread_once(&ranges_once, load_ranges);
}

static inline bool in_range(const struct ip_range *r, uintptr_t ip)
{
	return ip >= r->start && ip < r->end;
}

bool td_trace_ip_in_root(uintptr_t ip)
{
	td_trace_init_ranges();
	return in_range(&root_range, ip);
}

__attribute__((noinline)) td_poll td_trace_root_poll(td_future *f,
						     td_context *cx)
{
	struct td_frame frame = {
		.parent = tls_active_frame,
		.frame_address = __builtin_frame_address(0),
	};
	tls_active_frame = &frame;
	td_poll r = f->vtable->poll(f, cx);
	/* The empty asm keeps the poll out of tail position (the frame must
	 * stay on the stack while the child runs). */
	__asm__ volatile("" ::: "memory");
	tls_active_frame = frame.parent;
	return r;
}

/* ---- collector ------------------------------------------------------- */

void td_collector_init(struct td_collector *c)
{
	memset(c, 0, sizeof(*c));
}

void td_collector_push(struct td_collector *c)
{
	td_trace_init_ranges();
	c->outer = td_tls_collector;
	td_tls_collector = c;
}

void td_collector_pop(struct td_collector *c)
{
	td_tls_collector = c->outer;
	c->outer = NULL;
}

/* Room for `need` elements in *arr, which holds `used` of them: a
 * malloc'ed array while small, a trace/bigmem.h mapping (*mapped bytes,
 * resident already) once big. */
static bool grow(void **arr, size_t *cap, size_t *mapped, size_t used,
		 size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	struct td_big_buf old = {*arr, *mapped}, nbuf;
	if (!td_big_buf_get(&nbuf, ncap * elem))
		return false;
	if (used)
		memcpy(nbuf.p, *arr, used * elem);
	td_big_buf_put(&old);
	*arr = nbuf.p;
	*mapped = nbuf.mapped;
	*cap = nbuf.mapped ? nbuf.mapped / elem : ncap;
	return true;
}

/* Touch a fresh malloc'ed range (a mapping is resident already). */
static void touch(void *p, size_t bytes, size_t mapped)
{
	if (!mapped)
		memset(p, 0, bytes);
}

bool td_collector_reserve(struct td_collector *c, size_t nbts, size_t nips)
{
	if (!grow((void **)&c->bts, &c->cap_bts, &c->map_bts, c->nbts, nbts,
		  sizeof(*c->bts)) ||
	    !grow((void **)&c->ips, &c->cap_ips, &c->map_ips, c->nips, nips,
		  sizeof(*c->ips)))
		return false;
	touch(c->bts + c->nbts, (c->cap_bts - c->nbts) * sizeof(*c->bts),
	      c->map_bts);
	touch(c->ips + c->nips, (c->cap_ips - c->nips) * sizeof(*c->ips),
	      c->map_ips);
	return true;
}

void td_collector_finish(struct td_collector *c)
{
	if (c->finished)
		return;
	for (size_t i = 0; i < c->nbts; i++) {
		uintptr_t index = (uintptr_t)c->bts[i].ips;
		c->bts[i].ips = c->ips ? c->ips + index : NULL;
	}
	c->finished = true;
}

void td_collector_release(struct td_collector *c)
{
	struct td_big_buf bts = {c->bts, c->map_bts}, ips = {c->ips, c->map_ips};
	td_big_buf_put(&bts);
	td_big_buf_put(&ips);
	td_collector_init(c);
}

/* How deep the last backtrace on this thread went, root included: the
 * next walk stops there (unw_backtrace cannot be told where to stop, and
 * the frames above the root - the dump's own - are a third of the walk).
 * A walk that does not reach the root is redone in full. */
static __thread int depth_hint __attribute__((tls_model("initial-exec")));

static inline bool in_recorder(uintptr_t ip)
{
	return in_range(&record_range, ip) || in_range(&record_at_range, ip) ||
	       in_range(&leaf_api_range, ip);
}

/* The address range of the function holding leaf_ip (a hook's address
 * plus one), cached in the collector; {0, 0} when unknown. */
static struct ip_range leaf_function(struct td_collector *c,
				     const void *leaf_ip)
{
	uintptr_t ip = (uintptr_t)leaf_ip;
	size_t slots = sizeof(c->leaf_fns) / sizeof(c->leaf_fns[0]);
	struct td_leaf_fn *e =
		&c->leaf_fns[(size_t)((ip * 0x9e3779b97f4a7c15ull) >> 58) %
			     slots];
	if (e->leaf_ip != ip) {
		struct ip_range r = range_of((void *)(ip - 1));
		*e = (struct td_leaf_fn){ip, r.start, r.end};
	}
	return (struct ip_range){e->start, e->end};
}

/* Append a backtrace of the current stack, up to (not including) the
 * innermost root, to the installed collector: from the recorder's caller
 * (leaf_ip == NULL), or leaf_ip followed by the leaf's callers.  Inlined
 * into both entry points, so that the walk starts in one of the recorder
 * ranges skipped below. */
static inline __attribute__((always_inline)) void
record(const td_wait *what, const void *leaf_ip, const char *leaf_name)
{
	enum { FULL = TD_TRACE_MAX_FRAMES + 8 };
	struct td_collector *c = td_tls_collector;
	void *raw[FULL];
	bool have_root = tls_active_frame != NULL;
	int limit = have_root && depth_hint ? depth_hint + 2 : FULL;
	int n, first, last;
	bool reached_root;

	for (;;) {
		n = unw_backtrace(raw, limit);
		first = 0;
		while (first < n && in_recorder((uintptr_t)raw[first]))
			first++;
		last = first;
		reached_root = false;
		while (last < n) {
			if (in_range(&root_range, (uintptr_t)raw[last])) {
				reached_root = true;
				break;
			}
			last++;
		}
		if (reached_root || !have_root || limit == FULL || n < limit)
			break;
		limit = FULL;
	}
	if (reached_root)
		depth_hint = last + 1;

	/* A leaf that passed its own address: when its hook was not a tail
	 * call its frame is still there, next; leaf_ip stands for it. */
	bool prepend = leaf_ip != NULL;
	if (prepend && first < last) {
		struct ip_range fn = leaf_function(c, leaf_ip);
		if (in_range(&fn, (uintptr_t)raw[first] - 1))
			first++;
	}

	size_t count = (size_t)(last - first) + prepend;
	bool truncated = have_root && !reached_root;
	if (count > TD_TRACE_MAX_FRAMES) {
		count = TD_TRACE_MAX_FRAMES;
		truncated = true;
	}

	if (!grow((void **)&c->bts, &c->cap_bts, &c->map_bts, c->nbts,
		  c->nbts + 1, sizeof(*c->bts)) ||
	    !grow((void **)&c->ips, &c->cap_ips, &c->map_ips, c->nips,
		  c->nips + count, sizeof(*c->ips))) {
		c->out_of_memory = true;
		return;
	}
	td_backtrace *bt = &c->bts[c->nbts++];
	bt->ips = (const uintptr_t *)(uintptr_t)c->nips; /* index until finish */
	bt->n = count;
	bt->wait = *what;
	bt->truncated = truncated;
	bt->leaf_function = prepend && count > 0 ? leaf_name : NULL;
	uintptr_t *out = c->ips + c->nips;
	size_t k = 0;
	if (prepend && count > 0)
		out[k++] = (uintptr_t)leaf_ip;
	memcpy(out + k, raw + first, (count - k) * sizeof(uintptr_t));
	c->nips += count;
}

__attribute__((noinline)) bool td_trace_record_leaf(const td_wait *what)
{
	record(what, NULL, NULL);
	return true;
}

__attribute__((noinline)) td_poll
td_trace_record_leaf_at(const td_wait *what, const void *leaf_ip,
			const char *leaf_function)
{
	record(what, leaf_ip, leaf_function);
	return TD_PENDING;
}

/* ---- public API ------------------------------------------------------ */

__attribute__((noinline)) bool td_trace_leaf(td_context *cx,
					     const td_wait *what)
{
#ifdef TD_TRACING_DISABLED
	(void)cx;
	(void)what;
	return false;
#else
	if (cx ? !td_capture_on(cx) : td_tls_collector == NULL)
		return false;
	return td_trace_record_leaf(what);
#endif
}

bool td_tracing(void)
{
	return td_tls_collector != NULL;
}

struct td_trace {
	struct td_collector c;
};

td_trace *td_trace_capture(void (*fn)(void *arg), void *arg)
{
	td_trace *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	td_collector_init(&t->c);
	td_collector_push(&t->c);
	fn(arg);
	td_collector_pop(&t->c);
	td_collector_finish(&t->c);
	return t;
}

struct poll_once {
	td_future *future;
	td_context *cx;
};

static void poll_under_root(void *arg)
{
	struct poll_once *p = arg;
	(void)td_trace_root_poll(p->future, p->cx);
}

td_trace *td_trace_future(td_future *future, td_context *cx)
{
	td_waker noop = td_waker_noop();
	/* The caller's context, but never one that lets leaves skip the
	 * capture (a task tracing its own child passes its real context). */
	td_context own = cx ? *cx : (td_context){.waker = &noop};
	own.no_capture = 0;
	struct poll_once p = {future, &own};

	return td_trace_capture(poll_under_root, &p);
}

size_t td_trace_count(const td_trace *t)
{
	return t ? t->c.nbts : 0;
}

const td_backtrace *td_trace_get(const td_trace *t, size_t i)
{
	if (!t || i >= t->c.nbts)
		return NULL;
	return &t->c.bts[i];
}

void td_trace_free(td_trace *t)
{
	if (!t)
		return;
	td_collector_release(&t->c);
	free(t);
}
