/* main.c - `taskdump`: the command-line front end.
 *
 * Verbs in the style of jstack / py-spy dump / go tool pprof: one short
 * word, `--help` on each, results on stdout, errors as one line
 * "taskdump: <message>" on stderr, exit codes documented in cli.h and
 * README.md (the taskdump command). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef TD_TOOL_VERSION
#define TD_TOOL_VERSION "unknown"
#endif

static const char usage[] =
	"Usage: taskdump <command> [options] [arguments]\n"
	"\n"
	"Task dumps of programs built on the taskdump async runtime: where "
	"every task\nwaits, and how it got there.\n"
	"\n"
	"Commands:\n"
	"  dump PID          ask a running process (with the agent loaded) "
	"for a dump\n"
	"  run -- PROGRAM    run a program with the agent loaded, taking "
	"dumps\n"
	"  show FILE...      print dumps: filtered, grouped, as JSON, or as "
	"a summary\n"
	"  diff A B [C...]   compare dumps of one process taken over time\n"
	"  fold FILE...      folded stacks for flame graphs\n"
	"\n"
	"Options:\n"
	"  -h, --help        this help ('taskdump <command> --help' for a "
	"command)\n"
	"  --version         print the version\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} verbs[] = {
	{"dump", tdc_cmd_dump},
	{"run", tdc_cmd_run},
	{"show", tdc_cmd_show},
	{"diff", tdc_cmd_diff},
	{"fold", tdc_cmd_fold},
};

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (!verb)
		tdc_usage(NULL, "no command given: dump, run, show, diff or "
			  "fold");
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "help") == 0)
		tdc_help(usage);
	if (strcmp(verb, "--version") == 0 || strcmp(verb, "-V") == 0) {
		printf("taskdump %s (dump format version 1)\n",
		       TD_TOOL_VERSION);
		tdc_finish_stdout();
		return TDC_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i].name) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	if (verb[0] == '-')
		tdc_usage(NULL, "unknown option '%s'", verb);
	tdc_usage(NULL, "unknown command '%s' (commands: dump, run, show, "
		  "diff, fold)", verb);
}
