/* parse_text.h - INTERNAL: the text parser's state, shared by its two
 * files: parse_text.c (lines, key=value fields, the file) and
 * parse_tree.c (frames and trace trees). */
#ifndef TDC_PARSE_TEXT_H
#define TDC_PARSE_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "input.h"

/* What a tree line holds. */
enum node_kind {
	N_FRAME,
	N_TRUNC,     /* "... (truncated)": frames are missing there */
	N_NOFRAMES,  /* "(no frames)": a trace without any frame */
};

/* A tree node of the current entry. */
typedef struct node {
	const tdc_frame *frame;    /* N_FRAME only */
	enum node_kind kind;
	size_t parent;             /* index, or SIZE_MAX for a root */
	size_t depth;              /* lines above it in its chain */
	size_t nframes;            /* frames from the root to it, inclusive */
	bool has_wait;
	tdc_wait wait;
	bool has_child;            /* a frame child */
	bool truncated_child;      /* a "... (truncated)" child */
	bool cut;                  /* below a "... (truncated)" root */
} node;

typedef struct parser {
	tdc_input *in;
	tdc_dump *d;
	tdc_err *e;
	size_t cap_runtimes, cap_workers, cap_tasks;
	tdc_runtime *rt;           /* current runtime */
	tdc_worker *native;        /* worker whose native stack follows */
	size_t cap_native;
	size_t entry_first, entry_n; /* task lines of the current entry */
	bool entry_done;           /* has "not traced" or a tree */
	node *nodes;
	size_t nnodes, cap_nodes;
	size_t *stack;             /* last node seen at each depth */
	size_t cap_stack;
	int child_offset;          /* -1: not known yet for this entry */
	tdc_intern frames;         /* frame text -> tdc_frame * */
	tdc_intern values[2];      /* raw value -> cleaned (bare, quoted) */
	/* What repeats from task to task, kept once (parse_tree.c): */
	tdc_intern spawn_files;    /* file name -> itself */
	tdc_intern frame_lists;    /* frame pointers -> that array */
	tdc_intern waits;          /* wait text -> tdc_wait * (no object) */
	tdc_intern trace_lists;    /* tdc_trace array bytes -> that array */
	const tdc_frame **scratch; /* a trace's frames being gathered */
	size_t cap_scratch;
	tdc_trace *tscratch;       /* an entry's traces being gathered */
	size_t cap_tscratch;
	tdc_u64 want_runtimes, want_tasks;
} parser;

/* "<file>:<line>: <message>" into p->e; returns -1. */
static inline __attribute__((format(printf, 2, 3)))
int pt_fail(parser *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tdc_seterr(p->e, "%s:%llu: %s", p->in->name,
		   (unsigned long long)p->in->lineno, msg);
	return -1;
}

/* A tree line of the current entry ("╼ ...", "├╼ ...", "└╼ ..."). */
int tdc_pt_tree_node(parser *p, char *line, size_t len);

/* Parse a frame (or a marker); see parse_tree.c.  Returns its kind or -1. */
int tdc_pt_frame(parser *p, char *s, size_t n, const tdc_frame **out,
		 const char **wait, size_t *wlen);

/* The current entry ends: its tree becomes the traces of its tasks. */
void tdc_pt_finish_entry(parser *p);

#endif /* TDC_PARSE_TEXT_H */
