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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tdc_cmd_fold(int argc, char **argv)
{
	bool wait = false;
	char **lines = NULL;
	size_t n = 0, cap = 0;
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
	for (int f = 0; f < nfiles; f++) {
		const tdc_dump *d = dumps[f];

		for (size_t r = 0; r < d->nruntimes; r++) {
			const tdc_runtime *rt = &d->runtimes[r];

			for (size_t i = 0; i < rt->ntasks; i++) {
				const tdc_task *t = &rt->tasks[i];

				for (size_t k = 0; k < t->ntraces; k++) {
					lines = tdc_grow(lines, &cap, n + 1,
							 sizeof(*lines));
					lines[n++] = fold_trace(&t->traces[k],
								wait);
				}
			}
		}
	}
	qsort(lines, n, sizeof(*lines), cmp_str);
	/* Paged on a terminal; never coloured (it is input for tools). */
	tdc_report_begin();
	for (size_t i = 0; i < n; ) {
		size_t j = i + 1;

		while (j < n && strcmp(lines[j], lines[i]) == 0)
			j++;
		printf("%s %zu\n", lines[i], j - i);
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	tdc_free_all(dumps, nfiles);
	tdc_finish_stdout();
	return TDC_EXIT_OK;
}
