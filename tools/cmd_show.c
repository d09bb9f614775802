/* cmd_show.c - `taskdump show`: print, filter, group, summarize. */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "color.h"
#include "filter.h"
#include "report.h"
#include "write.h"

static const char help[] =
	"Usage: taskdump show [options] FILE...\n"
	"\n"
	"Print task dumps (text or JSON, detected by content; '-' reads "
	"stdin).\n"
	"Filters keep the tasks that match every option given; an option "
	"given\nseveral times matches any of its values.\n"
	"\n"
	"Options:\n"
	"  -f, --format FMT    text (default) or json; several files in "
	"json are\n"
	"                      printed as one JSON object after another\n"
	"  -t, --task ID       only task ID\n"
	"  -n, --name GLOB     only tasks whose name matches GLOB (shell "
	"wildcards;\n                      unnamed tasks never match)\n"
	"  -s, --state STATE   only tasks in STATE: idle, notified, running,"
	"\n                      cancelled, complete\n"
	"  -g, --grep REGEX    only tasks with a frame whose function "
	"matches REGEX\n"
	"                      (POSIX extended regular expression)\n"
	"  --min-idle DUR      only tasks idle at least DUR (500ms, 2s, "
	"1.5m, 1h;\n                      a bare number is seconds)\n"
	"  --deadlocks         only the tasks of the dump's deadlocks\n"
	"  --warnings[=WHAT]   only the tasks of the dump's task warnings "
	"(of kind\n                      WHAT: lost-wakeup, busy-loop, "
	"long-poll, starved,\n                      never-polled, long-wait;"
	" or of severity WHAT:\n                      error, warning, "
	"info)\n"
	"  --compact           one block per group of tasks with identical "
	"traces:\n                      their count, ids, idle times, the "
	"tree once\n                      (the default on a terminal)\n"
	"  --tasks             every task line, in the file format "
	"(the default\n                      when the output is not a "
	"terminal)\n"
	"  --group             with --tasks: one tree for tasks with "
	"identical\n                      traces (the default)\n"
	"  --no-group          with --tasks: one tree per task\n"
	"  --summary           one screen: deadlocks first, then the task "
	"warnings,\n                      tasks by state per\n"
	"                      runtime, the deepest waits, the longest idle "
	"tasks,\n                      the most common traces\n"
	"  -h, --help          this help\n";

static const struct option longopts[] = {
	{"format", required_argument, NULL, 'f'},
	{"task", required_argument, NULL, 't'},
	{"name", required_argument, NULL, 'n'},
	{"state", required_argument, NULL, 's'},
	{"grep", required_argument, NULL, 'g'},
	{"min-idle", required_argument, NULL, 'I'},
	{"deadlocks", no_argument, NULL, 'D'},
	{"warnings", optional_argument, NULL, 'W'},
	{"compact", no_argument, NULL, 'C'},
	{"tasks", no_argument, NULL, 'T'},
	{"group", no_argument, NULL, 'G'},
	{"no-group", no_argument, NULL, 'N'},
	{"summary", no_argument, NULL, 'S'},
	{"help", no_argument, NULL, 'h'},
	TDC_COMMON_OPTIONS,
	{NULL, 0, NULL, 0},
};

int tdc_cmd_show(int argc, char **argv)
{
	tdc_filter filt = {0};
	const char *format = NULL;
	bool group = true, summary = false;
	/* -1: compact on a terminal, task lines elsewhere. */
	int compact = -1;
	tdc_dump **dumps;
	FILE *out = stdout;
	tdc_err e;
	int c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:t:n:s:g:h", longopts,
				NULL)) != -1) {
		if (tdc_common_option("show", c, optarg))
			continue;
		switch (c) {
		case 'f':
			format = tdc_format_arg("show", optarg);
			break;
		case 't':
			rc = tdc_filter_task(&filt, optarg, &e);
			break;
		case 'n':
			rc = tdc_filter_name(&filt, optarg, &e);
			break;
		case 's':
			rc = tdc_filter_state(&filt, optarg, &e);
			break;
		case 'g':
			rc = tdc_filter_grep(&filt, optarg, &e);
			break;
		case 'I':
			rc = tdc_filter_min_idle(&filt, optarg, &e);
			break;
		case 'D':
			filt.deadlocks = true;
			break;
		case 'W':
			rc = tdc_filter_warnings(&filt, optarg, &e);
			break;
		case 'G':
		case 'N':
			group = c == 'G';
			compact = 0;
			break;
		case 'C':
		case 'T':
			compact = c == 'C';
			break;
		case 'S':
			summary = true;
			break;
		case 'h':
			tdc_help(help);
		default:
			tdc_bad_option("show", c, argv);
		}
		if (rc < 0)
			tdc_usage("show", "%s", e.msg);
	}
	if (optind >= argc)
		tdc_usage("show", "no dump file given");
	if (summary && format && strcmp(format, "json") == 0)
		tdc_usage("show", "--summary prints text; it cannot be "
			  "combined with --format json");
	if (!format)
		format = "text";
	if (compact < 0) /* before a pager takes over stdout */
		compact = isatty(STDOUT_FILENO);
	dumps = tdc_load_all(argv + optind, argc - optind);
	/* JSON is for programs: never painted. */
	if (tdc_report_begin() && (summary || strcmp(format, "text") == 0))
		out = tdc_paint_open(stdout, summary ? TDC_PAINT_REPORT :
						       TDC_PAINT_DUMP);
	for (int i = 0; i < argc - optind; i++) {
		tdc_filter_apply(&filt, dumps[i]);
		if (summary) {
			if (i)
				fputc('\n', out);
			tdc_summary(out, dumps[i]);
		} else if (compact && strcmp(format, "text") == 0) {
			tdc_write_compact(out, dumps[i]);
		} else {
			tdc_print_dump(out, dumps[i], format, group);
		}
	}
	if (out != stdout)
		tdc_paint_close(out);
	tdc_free_all(dumps, argc - optind);
	tdc_filter_free(&filt);
	tdc_finish_stdout();
	return TDC_EXIT_OK;
}
