/* tree_check.h - reading trace trees back, and a reference printer.
 *
 * tc_check_tree() parses the node lines of one tree (as the text format
 * prints them) and checks every shape rule of README.md (dump file formats):
 *   - a root line is "╼ <content>" with nothing before it;
 *   - any other line is <prefix><"├╼ "|"└╼ "><content>, the prefix made of
 *     3-character segments "│  " / "   ", depth = characters before the
 *     marker / 3 (box-drawing characters count as one), at least 1, and at
 *     most one more than the line before;
 *   - "├╼" exactly when a later sibling follows;
 *   - segment k is "│  " exactly when the ancestor at depth k is not a
 *     root and has a later sibling.
 * It returns the root-to-leaf paths of the annotated lines, "\n"-joined.
 *
 * tc_ref_tree() is a second, deliberately naive implementation of the
 * merging rules (recursive, linear scans, labels compared as text) used to
 * cross-check the writer on random traces.
 */
#ifndef TD_TEST_WRITERS_TREE_CHECK_H
#define TD_TEST_WRITERS_TREE_CHECK_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An assertion for hot loops: Check's own record every passing assertion
 * (a write(2) each in fork mode), this one only reports failures. */
#define TC_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			ck_abort_msg(__VA_ARGS__);                           \
	} while (0)

#define TC_ROOT "\xe2\x95\xbc "
#define TC_MID "\xe2\x94\x9c\xe2\x95\xbc "
#define TC_LAST "\xe2\x94\x94\xe2\x95\xbc "
#define TC_BAR "\xe2\x94\x82  "

struct tc_line {
	int depth;
	bool root, mid, later;
	char *segs; /* 'B' (bar) or 'S' (spaces) per prefix segment */
	const char *content;
};

static bool tc_parse_line(const char *s, struct tc_line *l)
{
	const char *p = s;
	int n = 0;

	l->root = l->mid = false;
	l->depth = 0;
	l->segs = NULL;
	if (strncmp(s, TC_ROOT, strlen(TC_ROOT)) == 0) {
		l->root = true;
		l->content = s + strlen(TC_ROOT);
		return true;
	}
	/* Count the segments first, then record them. */
	for (;; n++) {
		if (strncmp(p, TC_BAR, strlen(TC_BAR)) == 0)
			p += strlen(TC_BAR);
		else if (strncmp(p, "   ", 3) == 0)
			p += 3;
		else
			break;
	}
	l->segs = malloc((size_t)n + 1);
	TC_CHECK(l->segs, "l->segs");
	for (p = s, n = 0;; n++) {
		if (strncmp(p, TC_BAR, strlen(TC_BAR)) == 0) {
			p += strlen(TC_BAR);
			l->segs[n] = 'B';
		} else if (strncmp(p, "   ", 3) == 0) {
			p += 3;
			l->segs[n] = 'S';
		} else {
			break;
		}
	}
	l->segs[n] = 0;
	l->depth = n;
	if (strncmp(p, TC_MID, strlen(TC_MID)) == 0)
		l->mid = true;
	else if (strncmp(p, TC_LAST, strlen(TC_LAST)) != 0)
		return false;
	l->content = p + strlen(TC_MID);
	return n >= 1;
}

/* later[i]: a sibling of line i follows (same depth, same parent). */
static void tc_later_siblings(struct tc_line *L, int n)
{
	int i, d, maxd = 0;

	for (i = 0; i < n; i++)
		if (L[i].depth > maxd)
			maxd = L[i].depth;
	/* open[d]: the latest line at depth d that may still get a sibling
	 * (no shallower line came after it). */
	int *open = malloc(sizeof(int) * ((size_t)maxd + 1));
	TC_CHECK(open, "open");
	for (d = 0; d <= maxd; d++)
		open[d] = -1;
	for (i = 0; i < n; i++) {
		L[i].later = false;
		if (L[i].root) {
			for (d = 0; d <= maxd; d++)
				open[d] = -1;
			open[0] = i;
			continue;
		}
		/* Deeper open lines are closed by this one. */
		for (d = L[i].depth + 1; d <= maxd; d++)
			open[d] = -1;
		if (open[L[i].depth] >= 0)
			L[open[L[i].depth]].later = true;
		open[L[i].depth] = i;
	}
	free(open);
}

/* The label of a node line (its content without the wait annotation, which
 * goes to *leaf); both malloc'ed. */
static void tc_split(const char *content, char **label, char **leaf)
{
	const char *w = strstr(content, " [waiting: ");
	const char *end = content + strlen(content);

	*leaf = NULL;
	if (w) {
		*leaf = strndup(w + 11, (size_t)(end - w - 12));
		end = w;
	}
	*label = strndup(content, (size_t)(end - content));
	TC_CHECK(*label, "*label");
}

struct tc_str {
	char *s;
	size_t len, cap;
};

static void tc_cat(struct tc_str *o, const char *s)
{
	size_t n = strlen(s);

	while (o->len + n + 1 > o->cap) {
		o->cap = o->cap ? o->cap * 2 : 4096;
		o->s = realloc(o->s, o->cap);
		TC_CHECK(o->s, "o->s");
	}
	memcpy(o->s + o->len, s, n + 1);
	o->len += n;
}

/* Check lines[0..n) (no trailing newlines) as one tree; return the
 * annotated paths as "label > label > ... [leaf]\n" lines (malloc'ed). */
static char *tc_check_tree(char **lines, int n)
{
	struct tc_line *L = calloc((size_t)n + 1, sizeof(*L));
	int *anc = calloc((size_t)n + 1, sizeof(int));
	char **labels = calloc((size_t)n + 1, sizeof(char *));
	struct tc_str out = {0};
	int i, k;

	TC_CHECK(L && anc && labels, "L && anc && labels");
	tc_cat(&out, "");
	for (i = 0; i < n; i++) {
		TC_CHECK(tc_parse_line(lines[i], &L[i]),
			      "bad tree line %d: '%s'", i, lines[i]);
		if (i == 0)
			TC_CHECK(L[i].root, "first line not a root");
		if (!L[i].root)
			TC_CHECK(L[i].depth <= L[i - 1].depth + 1,
				      "line %d skips a level", i);
	}
	tc_later_siblings(L, n);
	for (i = 0; i < n; i++) {
		char *leaf;

		anc[L[i].depth] = i;
		if (!L[i].root) {
			TC_CHECK(L[i].mid == L[i].later,
				      "line %d: wrong marker", i);
			for (k = 0; k < L[i].depth; k++) {
				const struct tc_line *a = &L[anc[k]];
				bool bar = !a->root && a->later;

				TC_CHECK(L[i].segs[k] == (bar ? 'B' : 'S'),
					      "line %d: segment %d wrong", i,
					      k);
			}
		}
		tc_split(L[i].content, &labels[i], &leaf);
		if (!leaf)
			continue;
		for (k = 0; k <= L[i].depth; k++) {
			if (k)
				tc_cat(&out, " > ");
			tc_cat(&out, labels[anc[k]]);
		}
		tc_cat(&out, " [");
		tc_cat(&out, leaf);
		tc_cat(&out, "]\n");
		free(leaf);
	}
	for (i = 0; i < n; i++) {
		free(L[i].segs);
		free(labels[i]);
	}
	free(labels);
	free(L);
	free(anc);
	return out.s;
}

/* ---- the reference printer ------------------------------------------- */

struct tc_node {
	char *label;
	char *leaf;  /* NULL: interior */
	struct tc_node **kids;
	int nkids;
};

static struct tc_node *tc_child(struct tc_node *p, const char *label,
				const char *leaf)
{
	struct tc_node *c;
	int i;

	for (i = 0; i < p->nkids; i++) {
		c = p->kids[i];
		if (strcmp(c->label, label) != 0)
			continue;
		if (!leaf && !c->leaf)
			return c;
		if (leaf && c->leaf && strcmp(leaf, c->leaf) == 0)
			return c;
	}
	c = calloc(1, sizeof(*c));
	TC_CHECK(c, "c");
	c->label = strdup(label);
	c->leaf = leaf ? strdup(leaf) : NULL;
	p->kids = realloc(p->kids, sizeof(*p->kids) * (size_t)(p->nkids + 1));
	TC_CHECK(p->kids, "p->kids");
	p->kids[p->nkids++] = c;
	return c;
}

static void tc_print(struct tc_node *nd, FILE *f, const char *prefix,
		     bool root, bool last)
{
	char sub[8192];
	int i;

	fprintf(f, "%s%s%s", prefix, root ? TC_ROOT : last ? TC_LAST : TC_MID,
		nd->label);
	if (nd->leaf) {
		fputs(" [waiting: ", f);
		for (const char *p = nd->leaf; *p; p++)
			fputc(*p == ']' ? ')' : *p, f);
		fputc(']', f);
	}
	fputc('\n', f);
	snprintf(sub, sizeof(sub), "%s%s", prefix,
		 (root || last) ? "   " : TC_BAR);
	for (i = 0; i < nd->nkids; i++)
		tc_print(nd->kids[i], f, sub, false, i + 1 == nd->nkids);
}

static void tc_free(struct tc_node *nd)
{
	int i;

	for (i = 0; i < nd->nkids; i++)
		tc_free(nd->kids[i]);
	free(nd->kids);
	free(nd->label);
	free(nd->leaf);
	free(nd);
}

/* label(frame) must give the text format's frame syntax. */
static void tc_ref_tree(const td_dump_trace *tr, size_t n, FILE *f,
			void (*label)(const td_dump_frame *, char *, size_t))
{
	struct tc_node *top = calloc(1, sizeof(*top));
	size_t i, j;
	int r;

	TC_CHECK(top, "top");
	for (i = 0; i < n; i++) {
		struct tc_node *at = top;
		const char *w = tr[i].wait_text;

		if (tr[i].truncated || tr[i].nframes == 0)
			at = tc_child(at, tr[i].truncated ? "... (truncated)"
							  : "(no frames)",
				      tr[i].nframes == 0 ? w : NULL);
		for (j = 0; j < tr[i].nframes; j++) {
			char buf[1024];

			label(&tr[i].frames[j], buf, sizeof(buf));
			at = tc_child(at, buf, j + 1 == tr[i].nframes ? w : NULL);
		}
	}
	for (r = 0; r < top->nkids; r++)
		tc_print(top->kids[r], f, "", true, true);
	tc_free(top);
}

#endif /* TD_TEST_WRITERS_TREE_CHECK_H */
