/* main.c - `taskdump`: the command-line front end.
 *
 * Verbs in the style of jstack / py-spy dump / go tool pprof: one short
 * word, `--help` on each, results on stdout, errors as one line
 * "taskdump: <message>" on stderr, exit codes documented in cli.h and
 * README.md (the taskdump command). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: taskdump [--color=WHEN] [--no-pager] <command> [options] "
	"[arguments]\n"
	"       taskdump help [<command>]\n"
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
	"  help [COMMAND]    this help, or a command's "
	"('taskdump COMMAND --help')\n"
	"\n"
	"Options:\n"
	"  -h, --help        this help\n"
	"  -V, --version     print the version\n";

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

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))
#define VERB_LIST "dump, run, show, diff, fold"

/* The verb called `name`, or -1. */
static int find_verb(const char *name)
{
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(name, verbs[i].name) == 0)
			return (int)i;
	return -1;
}

/* `taskdump help [VERB]`: the overview, or the verb's own --help. */
static int help(int argc, char **argv)
{
	static char help_opt[] = "--help";
	char *args[] = {NULL, help_opt, NULL};
	int v;

	if (argc < 2 || strcmp(argv[1], "help") == 0)
		tdc_help(usage);
	if (argc > 2)
		tdc_usage(NULL, "help takes one command ('%s' is extra)",
			  argv[2]);
	if ((v = find_verb(argv[1])) < 0)
		tdc_usage(NULL, "help: unknown command '%s' (commands: "
			  VERB_LIST ")", argv[1]);
	args[0] = argv[1];
	return verbs[v].fn(2, args);
}

/* The options before the verb (git's style: taskdump --no-pager show);
 * returns the index of the verb. */
static int global_options(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			tdc_help(usage);
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
			tdc_version();
		if (strcmp(a, "--no-pager") == 0)
			tdc_common_option(NULL, TDC_OPT_NO_PAGER, NULL);
		else if (strcmp(a, "--color") == 0)
			tdc_common_option(NULL, TDC_OPT_COLOR, NULL);
		else if (strncmp(a, "--color=", 8) == 0)
			tdc_common_option(NULL, TDC_OPT_COLOR, a + 8);
		else
			tdc_usage(NULL, "unknown option '%s'", a);
	}
	return i;
}

/* Global options, then the verb (or help) with the rest of argv. */
int main(int argc, char **argv)
{
	int i = global_options(argc, argv), v;

	if (i >= argc)
		tdc_usage(NULL, "no command given: " VERB_LIST);
	if (strcmp(argv[i], "help") == 0)
		return help(argc - i, argv + i);
	if ((v = find_verb(argv[i])) >= 0)
		return verbs[v].fn(argc - i, argv + i);
	tdc_usage(NULL, "unknown command '%s' (commands: " VERB_LIST ")",
		  argv[i]);
}
