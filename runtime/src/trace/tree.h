/* tree.h - internal: a task's traces merged into the text format's tree.
 *
 * A task reached one or more leaves; each trace is the path of frames from
 * just below the task's root down to one leaf, outermost first.  The text
 * format (README.md (dump file formats), "Trace trees") prints them merged by common
 * prefix:
 *
 *   - a node is identified by its parent, its frame (function, file, line,
 *     inlined flag: see td_dump_frame_eq) and, for the last frame of a
 *     trace, the wait text it is annotated with.  Two traces that end in
 *     equal frames with equal wait texts share that leaf line; if the wait
 *     texts differ, the leaves are sibling lines (join_all over identical
 *     children shows one line per child, each with its own wait);
 *   - children are kept in the order of the first trace that reaches them,
 *     so the output depends only on the order of the traces;
 *   - a truncated trace (its outermost frames were cut at the frame limit)
 *     starts under a pseudo-root "... (truncated)" where its missing
 *     frames would be; a trace without frames is a pseudo-node
 *     "(no frames)" carrying its wait annotation;
 *   - traces whose first frames differ give several roots.
 *
 * A struct td_tree is scratch memory reused from task to task, so writing
 * 100 000 trees allocates only while the largest one grows.
 */
#ifndef TD_TRACE_TREE_H
#define TD_TRACE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/dump.h"
#include "trace/write_buf.h"

struct td_tree_node;

struct td_tree {
	struct td_tree_node *nodes;
	uint32_t n, cap;
	uint32_t first_root, last_root;
	uint32_t *slots;     /* hash index of nodes, for many traces */
	uint32_t nslots;     /* 0 or a power of two */
	char *prefix;        /* the prefix of the line being written */
	size_t prefix_len, prefix_cap;
};

/* An empty tree (no allocation yet). */
void td_tree_init(struct td_tree *t);

/* Free the scratch memory. */
void td_tree_release(struct td_tree *t);

/* Write the node lines of `ntraces` traces (none: nothing) to b.
 * Returns 0, or -ENOMEM (nothing more is written then). */
int td_tree_write(struct td_tree *t, struct td_wbuf *b,
		  const td_dump_trace *traces, size_t ntraces);

/* Frame equality as both the tree and grouping use it: function, file
 * (by content; NULL equals only NULL), line and inlined flag.  The
 * address, module and offset are ignored: two call sites on one line are
 * one frame. */
bool td_dump_frame_eq(const td_dump_frame *a, const td_dump_frame *b);

/* A hash of a string's content (NULL allowed). */
uint64_t td_dump_str_hash(const char *s);

/* Content hashes of recently seen string pointers: a dump's frames share
 * a few strings, hashing each once is enough.  Zero it before use. */
struct td_str_memo {
	const char *s[256];
	uint64_t h[256];
};

/* A hash of what td_dump_frame_eq compares (memo may be NULL). */
uint64_t td_dump_frame_hash(const td_dump_frame *f, struct td_str_memo *memo);

/* String equality by content; NULL equals only NULL. */
static inline bool td_dump_str_eq(const char *a, const char *b)
{
	if (a == b)
		return true;
	return a && b && strcmp(a, b) == 0;
}

#endif /* TD_TRACE_TREE_H */
