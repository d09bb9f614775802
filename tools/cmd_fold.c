/* cmd_fold.c - `taskdump fold`: folded stacks for flame graphs.
 *
 * One line per distinct trace, "outer;...;leaf count", the format of
 * Brendan Gregg's stackcollapse scripts (flamegraph.pl, inferno, speedscope
 * read it).  Frames are function names; inlined frames are frames too.
 * The count is the number of traces (a task waiting in a join of three
 * children has three).  Lines are sorted, so the output is deterministic
 * and several dumps are summed. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"Usage: taskdump fold [options] FILE...\n"
	"\n"
	"Print folded stacks for flame graphs: one line per distinct trace,\n"
	"\"frame;frame;...;frame COUNT\", outermost frame first, frames as "
	"function\nnames, COUNT the number of traces (summed over all files)."
	"\nA trace cut at the frame limit starts with a \"[truncated]\" "
	"frame.\nTasks that were not traced (running) are left out.\n"
	"\n"
	"Options:\n"
	"  -w, --wait       end each stack with the wait kind as a frame, "
	"e.g. \"[sleep]\"\n"
	"  -h, --help       this help\n"
	"\n"
	"Example: taskdump fold dump.txt | flamegraph.pl > tasks.svg\n";

static const struct option longopts[] = {
	{"wait", no_argument, NULL, 'w'},
	{"help", no_argument, NULL, 'h'},
	TDC_COMMON_OPTIONS,
	{NULL, 0, NULL, 0},
};

/* A frame name that cannot break the line format: ';' separates frames
 * and the last space the count. */
static void add_frame(tdc_buf *b, const char *name)
{
	if (b->len)
		tdc_buf_add(b, ";", 1);
	for (; *name; name++)
		tdc_buf_add(b, *name == ';' ? ":" : name, 1);
}

static char *fold_trace(const tdc_trace *t, bool wait)
{
	tdc_buf b = {0};

	tdc_buf_puts(&b, "");
	if (t->truncated)
		add_frame(&b, "[truncated]");
	for (size_t i = 0; i < t->nframes; i++)
		add_frame(&b, t->frames[i]->function);
	if (wait && t->wait.kind) {
		char kind[64];

		snprintf(kind, sizeof(kind), "[%s]", t->wait.kind);
		add_frame(&b, kind);
	}
	if (b.len == 0)
		add_frame(&b, "[no frames]");
	return b.p;
}

/* Traces that fold to the same line, counted once each: the table is
 * keyed by what the line is made of (the frames' function name strings,
 * the cut, with --wait the kind), compared by pointer where the parsers
 * share strings, so memory and time go with the distinct traces, not
 * with every trace (a million tasks are a handful of lines).  Two keys
 * may still fold to one line (equal names in different strings, ';'
 * made ':'): lines are merged again after sorting. */
typedef struct fold_key {
	const tdc_trace *rep;
	size_t count;
} fold_key;

typedef struct fold_set {
	fold_key *slots;   /* open addressing; rep NULL: empty */
	size_t n, cap;
	bool wait;
} fold_set;

static uint64_t key_hash(const tdc_trace *t, bool wait)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->nframes ^
		     ((uint64_t)t->truncated << 63);

	for (size_t i = 0; i < t->nframes; i++) {
		h ^= (uint64_t)(uintptr_t)t->frames[i]->function;
		h *= 0x100000001b3ull;
	}
	if (wait && t->wait.kind)
		for (const char *s = t->wait.kind; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 0x100000001b3ull;
		}
	return h ^ (h >> 29);
}

static bool key_equal(const tdc_trace *a, const tdc_trace *b, bool wait)
{
	if (a->nframes != b->nframes || a->truncated != b->truncated)
		return false;
	if (wait && (!a->wait.kind != !b->wait.kind ||
		     (a->wait.kind && strcmp(a->wait.kind, b->wait.kind))))
		return false;
	for (size_t i = 0; i < a->nframes; i++)
		if (a->frames[i]->function != b->frames[i]->function)
			return false;
	return true;
}

/* The slot of t's key, or the empty one where it goes. */
static fold_key *fold_slot(fold_key *slots, size_t cap, const tdc_trace *t,
			   bool wait)
{
	size_t i = key_hash(t, wait) & (cap - 1);

	while (slots[i].rep && !key_equal(slots[i].rep, t, wait))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void fold_add(fold_set *s, const tdc_trace *t)
{
	fold_key *k;

	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		fold_key *slots = tdc_xcalloc(cap, sizeof(*slots));

		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i].rep)
				*fold_slot(slots, cap, s->slots[i].rep,
					   s->wait) = s->slots[i];
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	k = fold_slot(s->slots, s->cap, t, s->wait);
	if (!k->rep) {
		k->rep = t;
		s->n++;
	}
	k->count++;
}

typedef struct fold_line {
	char *text;
	size_t count;
} fold_line;

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const fold_line *)a)->text,
		      ((const fold_line *)b)->text);
}

int tdc_cmd_fold(int argc, char **argv)
{
	bool wait = false;
	fold_set set = {0};
	fold_line *lines;
	size_t n = 0;
	tdc_dump **dumps;
	int c, nfiles;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":wh", longopts, NULL)) != -1) {
		if (tdc_common_option("fold", c, optarg))
			continue;
		switch (c) {
		case 'w':
			wait = true;
			break;
		case 'h':
			tdc_help(help);
		default:
			tdc_bad_option("fold", c, argv);
		}
	}
	nfiles = argc - optind;
	if (nfiles <= 0)
		tdc_usage("fold", "no dump file given");
	dumps = tdc_load_all(argv + optind, nfiles);
	set.wait = wait;
	for (int f = 0; f < nfiles; f++) {
		const tdc_dump *d = dumps[f];

		for (size_t r = 0; r < d->nruntimes; r++) {
			const tdc_runtime *rt = &d->runtimes[r];

			for (size_t i = 0; i < rt->ntasks; i++) {
				const tdc_task *t = &rt->tasks[i];

				for (size_t k = 0; k < t->ntraces; k++)
					fold_add(&set, &t->traces[k]);
			}
		}
	}
	lines = tdc_xmalloc((set.n + 1) * sizeof(*lines));
	for (size_t i = 0; i < set.cap; i++)
		if (set.slots[i].rep)
			lines[n++] = (fold_line){
				fold_trace(set.slots[i].rep, wait),
				set.slots[i].count};
	qsort(lines, n, sizeof(*lines), cmp_line);
	/* Paged on a terminal; never coloured (it is input for tools). */
	tdc_report_begin();
	for (size_t i = 0; i < n; ) {
		size_t j = i + 1, count = lines[i].count;

		while (j < n && strcmp(lines[j].text, lines[i].text) == 0)
			count += lines[j++].count;
		printf("%s %zu\n", lines[i].text, count);
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
	free(set.slots);
	tdc_free_all(dumps, nfiles);
	tdc_finish_stdout();
	return TDC_EXIT_OK;
}
