/* parse_tree.c - the text parser's frames and trace trees (README.md (dump file formats),
 * "Trace trees").  Tree lines are collected per entry; when the entry
 * ends, every node that ends a trace (it waits, is cut, or has no child)
 * becomes one trace: the frames on its path from the root. */
#include "parse_text.h"
#include "textfmt.h"

#include <stdlib.h>
#include <string.h>

/* Trace t: the frames from the root down to node i.  Frames are
 * interned (one tdc_frame per distinct frame text), so equal paths are
 * equal pointer arrays: each distinct array is kept once. */
static void make_trace(parser *p, tdc_trace *t, size_t i)
{
	node *nd = &p->nodes[i];
	size_t k = nd->nframes, bytes = k * sizeof(*p->scratch);
	const tdc_frame **list;

	p->scratch = tdc_grow(p->scratch, &p->cap_scratch, k + 1,
			      sizeof(*p->scratch));
	for (size_t j = i; j != SIZE_MAX; j = p->nodes[j].parent)
		if (p->nodes[j].kind == N_FRAME)
			p->scratch[--k] = p->nodes[j].frame;
	k = nd->nframes;
	list = tdc_intern_get(&p->frame_lists, (const char *)p->scratch,
			      bytes);
	if (!list) {
		list = tdc_arena_alloc(&p->d->arena, bytes);
		memcpy(list, p->scratch, bytes);
		tdc_intern_put(&p->frame_lists, (const char *)list, bytes,
			       list);
	}
	t->frames = list;
	t->nframes = k;
	t->truncated = nd->cut || nd->truncated_child || nd->kind == N_TRUNC;
	if (nd->has_wait)
		t->wait = nd->wait;
}

/* Does node i end a trace?  A frame that waits, is cut below, or has no
 * child; a "(no frames)" root; a childless "... (truncated)" root. */
static bool ends_trace(const node *nd)
{
	switch (nd->kind) {
	case N_FRAME:
		return nd->has_wait || nd->truncated_child || !nd->has_child;
	case N_NOFRAMES:
		return true;
	case N_TRUNC:
		return nd->parent == SIZE_MAX && !nd->has_child;
	}
	return false;
}

/* The current entry ends: turn its tree into traces (one per node that
 * ends one, in line order) shared by all its task lines. */
void tdc_pt_finish_entry(parser *p)
{
	tdc_trace *traces = NULL;
	size_t n = 0, bytes;
	bool objects = false;

	if (p->entry_n == 0)
		return;
	for (size_t i = 0; i < p->nnodes; i++)
		n += ends_trace(&p->nodes[i]);
	/* Gathered in the scratch array, zeroed: padding included, so that
	 * the bytes can be an intern key. */
	bytes = n * sizeof(tdc_trace);
	p->tscratch = tdc_grow(p->tscratch, &p->cap_tscratch, n + 1,
			       sizeof(tdc_trace));
	memset(p->tscratch, 0, bytes);
	n = 0;
	for (size_t i = 0; i < p->nnodes; i++)
		if (ends_trace(&p->nodes[i])) {
			make_trace(p, &p->tscratch[n], i);
			objects |= p->tscratch[n++].wait.object != NULL;
		}
	/* Entries whose traces wait on nothing of their own (a sleep, a
	 * yield: no object) repeat from task to task; every byte of them
	 * is a pointer to something interned (frame arrays, cached waits)
	 * or a number, so equal bytes are equal traces: keep one copy.  A
	 * trace with an object is its task's own and is not looked up. */
	if (!objects && n)
		traces = tdc_intern_get(&p->trace_lists,
					(const char *)p->tscratch, bytes);
	if (!traces) {
		traces = tdc_arena_alloc(&p->d->arena, bytes);
		memcpy(traces, p->tscratch, bytes);
		if (!objects && n)
			tdc_intern_put(&p->trace_lists, (const char *)traces,
				       bytes, traces);
	}
	for (size_t i = 0; i < p->entry_n; i++) {
		tdc_task *t = &p->rt->tasks[p->entry_first + i];

		t->traces = traces;
		t->ntraces = n;
	}
	p->entry_n = 0;
	p->entry_done = false;
	p->nnodes = 0;
	p->child_offset = -1;
}

/* Parse a frame: "<function>[ at <file>:<line>| in <module>+0x<off>]
 * [ [inlined]][ [waiting: <text>]]", or one of the markers.  Stores the
 * frame (N_FRAME) and the wait text, if any.  Returns the kind or -1. */
int tdc_pt_frame(parser *p, char *s, size_t n, const tdc_frame **out,
		 const char **wait, size_t *wlen)
{
	tdc_arena *a = &p->d->arena;
	tdc_frame *f;
	char *w, *key;

	*out = NULL;
	*wait = NULL;
	/* The annotation ends the line and its text never contains ']'. */
	if (n > 1 && s[n - 1] == ']' &&
	    (w = tdc_memrstr(s, s + n, " [waiting: ")) != NULL &&
	    !memchr(w + 11, ']', (size_t)(s + n - 1 - (w + 11)))) {
		*wait = w + 11;
		*wlen = (size_t)(s + n - 1 - *wait);
		n = (size_t)(w - s);
	}
	if (n == 15 && memcmp(s, "... (truncated)", 15) == 0)
		return N_TRUNC;
	if (n == 11 && memcmp(s, "(no frames)", 11) == 0)
		return N_NOFRAMES;
	if ((*out = tdc_intern_get(&p->frames, s, n)))
		return N_FRAME;
	key = tdc_arena_strndup(a, s, n);
	f = tdc_arena_alloc(a, sizeof(*f));
	if (n >= 10 && memcmp(s + n - 10, " [inlined]", 10) == 0) {
		f->inlined = true;
		n -= 10;
	}
	s[n] = '\0';
	for (char *at = s + n; (at = tdc_memrstr(s, at, " at ")); ) {
		char *colon = strrchr(at + 4, ':');

		if (colon && colon > at + 4 &&
		    tdc_parse_u64(colon + 1, strlen(colon + 1), &f->line)) {
			f->file = tdc_arena_clean(a, at + 4,
						  (size_t)(colon - at - 4),
						  true);
			n = (size_t)(at - s);
			break;
		}
	}
	if (!f->file) {
		for (char *in = s + n; (in = tdc_memrstr(s, in, " in ")); ) {
			char *plus = strrchr(in + 4, '+');
			uint64_t off;

			if (plus && plus > in + 4 &&
			    tdc_parse_hex(plus + 1, strlen(plus + 1), &off)) {
				f->offset.v = off;
				f->offset.set = true;
				f->module = tdc_arena_clean(
					a, in + 4, (size_t)(plus - in - 4),
					true);
				n = (size_t)(in - s);
				break;
			}
		}
	}
	if (n == 0)
		return pt_fail(p, "frame without a function name");
	f->function = tdc_arena_clean(a, s, n, true);
	tdc_intern_put(&p->frames, key, strlen(key), f);
	*out = f;
	return N_FRAME;
}

/* Classify a tree line: returns 0 for a root ("╼ "), 1 for a child
 * ("├╼ " or "└╼ " after `*chars` characters, each "│" or a space),
 * -1 for neither; *off is where the node's text starts. */
static int tree_line(const char *s, size_t n, size_t *chars, size_t *off)
{
	size_t i = 0;

	*chars = 0;
	while (i < n) {
		if (s[i] == ' ')
			i++;
		else if (n - i >= 3 && memcmp(s + i, TDC_VBAR, 3) == 0)
			i += 3;
		else
			break;
		(*chars)++;
	}
	if (*chars == 0 && n >= 4 && memcmp(s, TDC_ROOT " ", 4) == 0) {
		*off = 4;
		return 0;
	}
	if (n - i < 7 ||
	    (memcmp(s + i, TDC_TEE, 3) != 0 &&
	     memcmp(s + i, TDC_ELBOW, 3) != 0) ||
	    memcmp(s + i + 3, TDC_ROOT " ", 4) != 0)
		return -1;
	*off = i + 7;
	return 1;
}

/* The depth of a child line.  The format puts a root's children three
 * characters in (depth = characters before the marker / 3); a file that
 * starts them at column 0 instead (as the examples in README.md (dump file formats) do) is
 * read with every child one level deeper, decided by the entry's first
 * child line. */
static int child_depth(parser *p, size_t chars, size_t *depth)
{
	if (p->child_offset < 0)
		p->child_offset = chars == 0;
	if (chars % 3 != 0 || (chars == 0 && !p->child_offset))
		return pt_fail(p, "bad indentation of a tree line");
	*depth = chars / 3 + (size_t)p->child_offset;
	return 0;
}

int tdc_pt_tree_node(parser *p, char *line, size_t len)
{
	size_t chars, off, depth = 0;
	int type = tree_line(line, len, &chars, &off), kind;
	const tdc_frame *frame;
	const char *wait;
	size_t wlen;
	node *nd, *parent = NULL;

	if (type < 0)
		return pt_fail(p, "expected a trace tree line (\"" TDC_ROOT
			       "\", \"" TDC_TEE TDC_ROOT "\" or \"" TDC_ELBOW
			       TDC_ROOT "\")");
	if (type == 1 && child_depth(p, chars, &depth) < 0)
		return -1;
	if (depth >= TDC_MAX_FRAMES)
		return pt_fail(p, "trace deeper than %d frames",
			       TDC_MAX_FRAMES);
	if (depth > 0) {
		if (p->nnodes == 0 ||
		    depth > p->nodes[p->nnodes - 1].depth + 1)
			return pt_fail(p, "tree line without a parent (bad "
				       "indentation)");
		parent = &p->nodes[p->stack[depth - 1]];
		if (parent->kind == N_NOFRAMES ||
		    (parent->kind == N_TRUNC && parent->parent != SIZE_MAX))
			return pt_fail(p, "a marker line cannot have children");
	}
	kind = tdc_pt_frame(p, line + off, len - off, &frame, &wait, &wlen);
	if (kind < 0)
		return -1;
	if (kind == N_NOFRAMES && depth > 0)
		return pt_fail(p, "misplaced \"(no frames)\" marker");
	p->nodes = tdc_grow(p->nodes, &p->cap_nodes, p->nnodes + 1,
			    sizeof(node));
	p->stack = tdc_grow(p->stack, &p->cap_stack, depth + 1,
			    sizeof(size_t));
	parent = depth ? &p->nodes[p->stack[depth - 1]] : NULL;
	nd = &p->nodes[p->nnodes];
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->frame = frame;
	nd->depth = depth;
	nd->parent = depth ? p->stack[depth - 1] : SIZE_MAX;
	nd->nframes = (parent ? parent->nframes : 0) + (kind == N_FRAME);
	nd->cut = parent ? parent->cut || parent->kind == N_TRUNC : false;
	if (wait) {
		const tdc_wait *seen = tdc_intern_get(&p->waits, wait, wlen);

		nd->has_wait = true;
		if (seen) {
			nd->wait = *seen;
		} else {
			nd->wait.text = tdc_arena_clean(&p->d->arena, wait,
							wlen, true);
			tdc_wait_from_text(&p->d->arena, nd->wait.text,
					   &nd->wait);
			/* A wait is a function of its text; those without an
			 * object repeat (a sleep, a yield): keep them once.
			 * Those with one rarely do. */
			if (!nd->wait.object) {
				tdc_wait *w = tdc_arena_alloc(&p->d->arena,
							      sizeof(*w));

				*w = nd->wait;
				tdc_intern_put(&p->waits,
					       tdc_arena_strndup(&p->d->arena,
								 wait, wlen),
					       wlen, w);
			}
		}
	}
	if (parent) {
		if (kind == N_FRAME)
			parent->has_child = true;
		else
			parent->truncated_child = true;
	}
	p->stack[depth] = p->nnodes++;
	p->entry_done = true;
	return 0;
}
