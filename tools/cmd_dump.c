/* cmd_dump.c - `taskdump dump PID`: take a dump of a live process. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "target.h"

static const char help[] =
	"Usage: taskdump dump [options] PID\n"
	"\n"
	"Ask process PID for a task dump and print it.  The process must run "
	"with\nthe agent loaded (LD_PRELOAD=libtaskdump_agent.so, or "
	"'taskdump run'):\nwithout it the signal would kill the process, so "
	"taskdump refuses.\n"
	"\n"
	"taskdump reads the process's TASKDUMP_DIR (default: its working "
	"directory),\nTASKDUMP_SIGNAL (default SIGUSR1) and TASKDUMP_FORMAT "
	"from its environment,\nsends the signal and waits for the agent's "
	"file taskdump-PID-SEQ.txt\n(or .json) to appear.  That file stays "
	"where the agent wrote it.\n"
	"The signal goes to the agent's thread, so that no thread of the "
	"program is\ninterrupted.  Nothing the process controls is trusted: "
	"its directory is\nopened as its user would, and only a regular file "
	"of its user, mode 0600,\nat most 1 GiB, is read.\n"
	"\n"
	"Options:\n"
	"  -t, --timeout DUR   wait at most DUR for the dump (default 10s; "
	"500ms, 2s,\n"
	"                      1.5m; a bare number is seconds)\n"
	"  -o, --output FILE   write the dump to FILE (atomically) instead "
	"of stdout\n"
	"  -f, --format FMT    text or json (default: as the agent wrote it)"
	"\n"
	"  -h, --help          this help\n";

static const struct option longopts[] = {
	{"timeout", required_argument, NULL, 't'},
	{"output", required_argument, NULL, 'o'},
	{"format", required_argument, NULL, 'f'},
	{"help", no_argument, NULL, 'h'},
	TDC_COMMON_OPTIONS,
	{NULL, 0, NULL, 0},
};

/* Copy the agent's file as it is, up to the size it had when checked. */
static int copy_raw(tdc_input *in, uint64_t size, FILE *out)
{
	char buf[65536];
	long n;
	tdc_err e;

	while ((n = tdc_input_read(in, buf, sizeof(buf), &e)) > 0)
		fwrite(buf, 1, (size_t)n, out);
	if (n < 0) {
		tdc_error("%s", e.msg);
		return TDC_EXIT_INPUT;
	}
	if (in->got < size) {
		tdc_error("%s became shorter while being read (%llu of %llu "
			  "bytes)", in->name, (unsigned long long)in->got,
			  (unsigned long long)size);
		return TDC_EXIT_INPUT;
	}
	return TDC_EXIT_OK;
}

/* Print the dump `f` to `out` in `format` (NULL: as it is). */
static int emit(tdc_dumpfile *f, const char *format, FILE *out)
{
	const char *ext = strrchr(f->path, '.');
	const char *have = ext && strcmp(ext, ".json") == 0 ? "json" : "text";
	tdc_input in;
	tdc_dump *d;
	tdc_err e;
	int rc = TDC_EXIT_OK;

	tdc_input_fd(&in, f->path, f->fd, f->size);
	f->fd = -1; /* the input closes it */
	if (!format || strcmp(format, have) == 0) {
		rc = copy_raw(&in, f->size, out);
	} else if (tdc_load_input(&in, &d, &e) < 0) {
		tdc_error("%s", e.msg);
		rc = tdc_err_status(&e);
	} else {
		tdc_print_dump(out, d, format, true);
		tdc_dump_free(d);
	}
	tdc_input_close(&in);
	return rc;
}

int tdc_cmd_dump(int argc, char **argv)
{
	const char *format = NULL, *output = NULL;
	double timeout_ms = 10000;
	tdc_target t;
	tdc_dumpfile df = {.fd = -1};
	int64_t pid;
	char *tmp = NULL, *dest = NULL;
	FILE *f = stdout;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:o:f:h", longopts,
				NULL)) != -1) {
		if (tdc_common_option("dump", c, optarg))
			continue;
		switch (c) {
		case 't':
			if (!tdc_parse_duration(optarg, &timeout_ms))
				tdc_usage("dump", "--timeout needs a duration "
					  "like 10s or 500ms, not '%s'",
					  optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'f':
			format = tdc_format_arg("dump", optarg);
			break;
		case 'h':
			tdc_help(help);
		default:
			tdc_bad_option("dump", c, argv);
		}
	}
	if (optind >= argc)
		tdc_usage("dump", "no PID given");
	if (argc - optind > 1)
		tdc_usage("dump", "one PID at a time ('%s' is extra)",
			  argv[optind + 1]);
	if (!tdc_parse_i64(argv[optind], strlen(argv[optind]), &pid) ||
	    pid <= 0 || pid > INT_MAX)
		tdc_usage("dump", "'%s' is not a process id", argv[optind]);
	if ((rc = tdc_target_open(&t, (pid_t)pid)) != TDC_EXIT_OK)
		return rc;
	/* Where the output goes is checked before the process is bothered. */
	if (output && !(f = tdc_atomic_open(output, &tmp, &dest))) {
		tdc_target_close(&t);
		return TDC_EXIT_SYSTEM;
	}
	if ((rc = tdc_target_agent(&t, false, 0)) == TDC_EXIT_OK)
		rc = tdc_target_dump(&t, timeout_ms, &df);
	tdc_target_close(&t);
	if (rc == TDC_EXIT_OK)
		rc = emit(&df, format, f);
	if (!output && rc == TDC_EXIT_OK)
		tdc_finish_stdout();
	else if (output && rc == TDC_EXIT_OK)
		rc = tdc_atomic_commit(f, tmp, dest, output);
	else if (output)
		tdc_atomic_abort(f, tmp, dest);
	tdc_dumpfile_close(&df);
	return rc;
}
