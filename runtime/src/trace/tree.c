/* tree.c - merging a task's traces into a tree and writing it (tree.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/tree.h"
#include "trace/write_cache.h"

#define NONE UINT32_MAX

/* Up to this many traces, a node's children are found by a linear scan
 * (at most this many per level); beyond, through the hash index, so that
 * a join_all over 10 000 children stays linear. */
#define SCAN_MAX_TRACES 8

/* The longest fallback wait text (td_wait_format into a buffer). */
#define WAIT_TEXT_MAX 256

enum node_kind {
	NODE_FRAME,
	NODE_TRUNCATED, /* "... (truncated)": frames cut off above */
	NODE_NO_FRAMES, /* "(no frames)": a trace with no frame at all */
};

struct td_tree_node {
	const td_dump_frame *frame;   /* NODE_FRAME only */
	const td_dump_trace *leaf;    /* the trace that ends here, or NULL */
	uint64_t hash;                /* of the key, when indexed */
	uint32_t parent, first_child, last_child, next;
	enum node_kind kind;
};

/* The key a node is found by (see tree.h). */
struct node_key {
	uint32_t parent;
	enum node_kind kind;
	const td_dump_frame *frame;
	const td_dump_trace *leaf;
};

/* UTF-8 of the box-drawing characters. */
#define MARK_ROOT "\xe2\x95\xbc "          /* "╼ " */
#define MARK_MID "\xe2\x94\x9c\xe2\x95\xbc " /* "├╼ " */
#define MARK_LAST "\xe2\x94\x94\xe2\x95\xbc " /* "└╼ " */
#define SEG_BAR "\xe2\x94\x82  "            /* "│  " */
#define SEG_SPACE "   "

/* ---- equality and hashing ------------------------------------------- */

uint64_t td_dump_str_hash(const char *s)
{
	const uint64_t m = 0xff51afd7ed558ccdull;
	uint64_t h, w;
	size_t n;

	if (!s)
		return 0x9e3779b97f4a7c15ull;
	n = strlen(s);
	h = (uint64_t)n * 0x9e3779b97f4a7c15ull;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * m;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * m;
	return h ^ (h >> 29);
}

bool td_dump_frame_eq(const td_dump_frame *a, const td_dump_frame *b)
{
	return a->line == b->line && a->inlined == b->inlined &&
	       td_dump_str_eq(a->function, b->function) &&
	       td_dump_str_eq(a->file, b->file);
}

/* The content hash of s, from the memo when s was hashed before. */
static uint64_t memo_hash(struct td_str_memo *m, const char *s)
{
	size_t i;

	if (!m || !s)
		return td_dump_str_hash(s);
	i = ((uintptr_t)s >> 3 ^ (uintptr_t)s >> 11) & 255;
	if (m->s[i] != s) {
		m->s[i] = s;
		m->h[i] = td_dump_str_hash(s);
	}
	return m->h[i];
}

uint64_t td_dump_frame_hash(const td_dump_frame *f, struct td_str_memo *memo)
{
	uint64_t h = memo_hash(memo, f->function);

	h ^= memo_hash(memo, f->file) * 0xc2b2ae3d27d4eb4full;
	h ^= ((uint64_t)(uint32_t)f->line << 1 | f->inlined) *
	     0x165667b19e3779f9ull;
	return h ^ (h >> 31);
}

static bool leaf_eq(const td_dump_trace *a, const td_dump_trace *b)
{
	char ta[WAIT_TEXT_MAX], tb[WAIT_TEXT_MAX];

	if (a == b || (!a && !b))
		return true;
	if (!a || !b)
		return false;
	return strcmp(td_dump_wait_text(a, ta, sizeof(ta)),
		      td_dump_wait_text(b, tb, sizeof(tb))) == 0;
}

static bool key_eq(const struct td_tree_node *nd, const struct node_key *k)
{
	if (nd->parent != k->parent || nd->kind != k->kind)
		return false;
	if (k->kind == NODE_FRAME && !td_dump_frame_eq(nd->frame, k->frame))
		return false;
	return leaf_eq(nd->leaf, k->leaf);
}

static uint64_t key_hash(const struct node_key *k)
{
	char tmp[WAIT_TEXT_MAX];
	uint64_t h = ((uint64_t)k->parent << 2 | k->kind) * 0x9e3779b97f4a7c15ull;

	if (k->kind == NODE_FRAME)
		h ^= td_dump_frame_hash(k->frame, NULL);
	if (k->leaf)
		h ^= td_dump_str_hash(td_dump_wait_text(k->leaf, tmp,
						       sizeof(tmp))) * 3;
	return h ^ (h >> 29);
}

/* ---- building -------------------------------------------------------- */

void td_tree_init(struct td_tree *t)
{
	memset(t, 0, sizeof(*t));
}

void td_tree_release(struct td_tree *t)
{
	free(t->nodes);
	free(t->slots);
	free(t->prefix);
	td_tree_init(t);
}

static void tree_reset(struct td_tree *t, bool indexed)
{
	t->n = 0;
	t->first_root = t->last_root = NONE;
	if (indexed && t->nslots)
		memset(t->slots, 0xff, t->nslots * sizeof(*t->slots));
}

/* Make the hash index hold at least `want` nodes at load <= 1/2. */
static int index_grow(struct td_tree *t, uint32_t want)
{
	uint32_t n = t->nslots ? t->nslots : 64, i;

	while (n / 2 < want)
		n *= 2;
	if (n == t->nslots)
		return 0;
	uint32_t *slots = malloc(n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	for (i = 0; i < t->n; i++) {
		uint32_t s = (uint32_t)t->nodes[i].hash & (n - 1);

		while (slots[s] != NONE)
			s = (s + 1) & (n - 1);
		slots[s] = i;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return 0;
}

static uint32_t add_node(struct td_tree *t, const struct node_key *k)
{
	struct td_tree_node *nd;

	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 64;
		void *p = realloc(t->nodes, cap * sizeof(*t->nodes));

		if (!p || cap < t->cap)
			return NONE;
		t->nodes = p;
		t->cap = cap;
	}
	uint32_t i = t->n++;
	nd = &t->nodes[i];
	nd->frame = k->frame;
	nd->leaf = k->leaf;
	nd->kind = k->kind;
	nd->parent = k->parent;
	nd->first_child = nd->last_child = nd->next = NONE;
	nd->hash = 0;
	uint32_t *last = k->parent == NONE ? &t->last_root
					   : &t->nodes[k->parent].last_child;
	if (*last == NONE) {
		if (k->parent == NONE)
			t->first_root = i;
		else
			t->nodes[k->parent].first_child = i;
	} else {
		t->nodes[*last].next = i;
	}
	*last = i;
	return i;
}

static uint32_t find_scan(struct td_tree *t, const struct node_key *k)
{
	uint32_t c = k->parent == NONE ? t->first_root
				       : t->nodes[k->parent].first_child;

	for (; c != NONE; c = t->nodes[c].next)
		if (key_eq(&t->nodes[c], k))
			return c;
	return add_node(t, k);
}

static uint32_t find_indexed(struct td_tree *t, const struct node_key *k)
{
	uint64_t h = key_hash(k);
	uint32_t s, i;

	if (t->n + 1 > t->nslots / 2 && index_grow(t, t->n + 1) < 0)
		return NONE;
	for (s = (uint32_t)h & (t->nslots - 1); t->slots[s] != NONE;
	     s = (s + 1) & (t->nslots - 1)) {
		i = t->slots[s];
		if (t->nodes[i].hash == h && key_eq(&t->nodes[i], k))
			return i;
	}
	i = add_node(t, k);
	if (i != NONE) {
		t->nodes[i].hash = h;
		t->slots[s] = i;
	}
	return i;
}

/* Find the node for key k, adding it as the last child if it is new.
 * NONE when out of memory. */
static uint32_t find_or_add(struct td_tree *t, bool indexed, uint32_t parent,
			    enum node_kind kind, const td_dump_frame *frame,
			    const td_dump_trace *leaf)
{
	struct node_key k = {parent, kind, frame, leaf};

	return indexed ? find_indexed(t, &k) : find_scan(t, &k);
}

/* Frames of a trace; a NULL array counts as none. */
static size_t nframes_of(const td_dump_trace *tr)
{
	return tr->frames ? tr->nframes : 0;
}

static int add_trace(struct td_tree *t, bool indexed, const td_dump_trace *tr)
{
	size_t nf = nframes_of(tr), i;
	uint32_t at = NONE;

	if (tr->truncated || nf == 0) {
		at = find_or_add(t, indexed, NONE,
				 tr->truncated ? NODE_TRUNCATED : NODE_NO_FRAMES,
				 NULL, nf == 0 ? tr : NULL);
		if (at == NONE)
			return -ENOMEM;
	}
	for (i = 0; i < nf; i++) {
		at = find_or_add(t, indexed, at, NODE_FRAME, &tr->frames[i],
				 i + 1 == nf ? tr : NULL);
		if (at == NONE)
			return -ENOMEM;
	}
	return 0;
}

/* ---- writing --------------------------------------------------------- */

static void put_leaf(struct td_wbuf *b, const td_dump_trace *leaf)
{
	char tmp[WAIT_TEXT_MAX];

	td_wbuf_lit(b, " [waiting: ");
	td_wbuf_text(b, td_dump_wait_text(leaf, tmp, sizeof(tmp)),
		     TD_ESC_WAIT);
	td_wbuf_lit(b, "]\n");
}

/* One node line after its prefix and marker. */
static void put_content(struct td_wbuf *b, enum node_kind kind,
			const td_dump_frame *frame, const td_dump_trace *leaf)
{
	if (kind == NODE_FRAME)
		td_wbuf_frame_cached(b, frame);
	else if (kind == NODE_TRUNCATED)
		td_wbuf_lit(b, "... (truncated)");
	else
		td_wbuf_lit(b, "(no frames)");
	if (leaf)
		put_leaf(b, leaf);
	else
		td_wbuf_putc(b, '\n');
}

static void put_spaces(struct td_wbuf *b, size_t n)
{
	static const char spaces[] = "                                ";

	for (; n > sizeof(spaces) - 1; n -= sizeof(spaces) - 1)
		td_wbuf_put(b, spaces, sizeof(spaces) - 1);
	td_wbuf_put(b, spaces, n);
}

/* A single trace is a chain: every child is the last one, so a node at
 * depth d has 3*d spaces before its marker.  Same output as the general
 * tree, without building it (the common case: one leaf per task). */
static void write_chain(struct td_wbuf *b, const td_dump_trace *tr)
{
	size_t nf = nframes_of(tr), depth = 0, i;

	if (tr->truncated || nf == 0) {
		td_wbuf_lit(b, MARK_ROOT);
		put_content(b, tr->truncated ? NODE_TRUNCATED : NODE_NO_FRAMES,
			    NULL, nf == 0 ? tr : NULL);
		depth = 1;
	}
	for (i = 0; i < nf; i++, depth++) {
		if (depth == 0) {
			td_wbuf_lit(b, MARK_ROOT);
		} else {
			put_spaces(b, 3 * depth);
			td_wbuf_lit(b, MARK_LAST);
		}
		put_content(b, NODE_FRAME, &tr->frames[i],
			    i + 1 == nf ? tr : NULL);
		if (td_wbuf_failed(b))
			return;
	}
}

static int prefix_push(struct td_tree *t, const char *seg, size_t len)
{
	if (t->prefix_len + len > t->prefix_cap) {
		size_t cap = t->prefix_cap ? t->prefix_cap * 2 : 256;
		char *p;

		while (cap < t->prefix_len + len)
			cap *= 2;
		p = realloc(t->prefix, cap);
		if (!p)
			return -ENOMEM;
		t->prefix = p;
		t->prefix_cap = cap;
	}
	memcpy(t->prefix + t->prefix_len, seg, len);
	t->prefix_len += len;
	return 0;
}

/* The segment a node adds to its children's prefix: three spaces for a
 * root or a last child, "│  " when a later sibling follows (the bar
 * continues down to it).  Roots never get a bar: "╼" has no stem. */
static bool seg_is_bar(const struct td_tree_node *nd)
{
	return nd->parent != NONE && nd->next != NONE;
}

/* Depth-first, without recursion (a trace may be thousands of frames
 * deep): the prefix grows by one segment when going down to a first
 * child and shrinks by the parent's segment when climbing back up. */
static int write_nodes(struct td_tree *t, struct td_wbuf *b)
{
	uint32_t i = t->first_root;

	t->prefix_len = 0;
	while (i != NONE) {
		const struct td_tree_node *nd = &t->nodes[i];

		if (t->prefix_len) /* t->prefix is NULL until first used */
			td_wbuf_put(b, t->prefix, t->prefix_len);
		if (nd->parent == NONE)
			td_wbuf_lit(b, MARK_ROOT);
		else if (nd->next != NONE)
			td_wbuf_lit(b, MARK_MID);
		else
			td_wbuf_lit(b, MARK_LAST);
		put_content(b, nd->kind, nd->frame, nd->leaf);
		if (td_wbuf_failed(b))
			return 0;

		if (nd->first_child != NONE) {
			int err = seg_is_bar(nd)
					  ? prefix_push(t, SEG_BAR, sizeof(SEG_BAR) - 1)
					  : prefix_push(t, SEG_SPACE, 3);
			if (err)
				return err;
			i = nd->first_child;
			continue;
		}
		/* Climb to the nearest ancestor-or-self with a later sibling. */
		while (i != NONE && t->nodes[i].next == NONE) {
			i = t->nodes[i].parent;
			if (i != NONE)
				t->prefix_len -= seg_is_bar(&t->nodes[i])
							 ? sizeof(SEG_BAR) - 1
							 : 3;
		}
		if (i != NONE)
			i = t->nodes[i].next;
	}
	return 0;
}

int td_tree_write(struct td_tree *t, struct td_wbuf *b,
		  const td_dump_trace *traces, size_t ntraces)
{
	bool indexed = ntraces > SCAN_MAX_TRACES;
	size_t i;
	int err;

	if (ntraces == 0)
		return 0;
	if (ntraces == 1) {
		write_chain(b, &traces[0]);
		return 0;
	}
	tree_reset(t, indexed);
	for (i = 0; i < ntraces; i++) {
		err = add_trace(t, indexed, &traces[i]);
		if (err)
			return err;
	}
	return write_nodes(t, b);
}
