/* cli.h - the verbs of the taskdump tool and what they share. */
#ifndef TDC_CLI_H
#define TDC_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"
#include "util.h"

/* Each verb gets argv with argv[0] == the verb's name and returns the
 * process exit status. */
int tdc_cmd_dump(int argc, char **argv);
int tdc_cmd_run(int argc, char **argv);
int tdc_cmd_show(int argc, char **argv);
int tdc_cmd_diff(int argc, char **argv);
int tdc_cmd_fold(int argc, char **argv);

/* The exit status paragraph every --help ends with. */
extern const char tdc_exit_help[];

/* The options every verb takes besides its own (README.md (the taskdump
 * command), Terminal): --color[=WHEN], --no-pager, --version.  A verb puts
 * TDC_COMMON_OPTIONS in its longopts and hands what getopt_long returns to
 * tdc_common_option before its own cases. */
enum { TDC_OPT_COLOR = 0x100, TDC_OPT_NO_PAGER, TDC_OPT_VERSION };
#define TDC_COMMON_OPTIONS                                          \
	{"color", optional_argument, NULL, TDC_OPT_COLOR},          \
	{"no-pager", no_argument, NULL, TDC_OPT_NO_PAGER},          \
	{"version", no_argument, NULL, TDC_OPT_VERSION}

/* Handle a common option (c as getopt_long returned it, arg its value):
 * true if it was one; a bad --color value is a usage error of `verb`
 * (NULL: before any verb); --version prints the version and exits 0. */
bool tdc_common_option(const char *verb, int c, const char *arg);

/* Print "taskdump VERSION (dump format version 1)" and exit 0. */
_Noreturn void tdc_version(void);

/* A verb whose output is a report (show, diff, fold, help) calls this
 * before printing it: decides whether to colour (--color, NO_COLOR, a
 * terminal on stdout), then starts the pager (pager.h).  Returns whether
 * to colour. */
bool tdc_report_begin(void);

/* "taskdump: <verb>: <msg> (see 'taskdump <verb> --help')", exit 1. */
_Noreturn void tdc_usage(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report what getopt_long (optstring starting with ':') returned for an
 * unknown option or a missing argument, and exit 1. */
_Noreturn void tdc_bad_option(const char *verb, int c, char **argv);

/* Print a --help text to stdout (paged, see tdc_report_begin), then the
 * common options and the exit status, and exit 0. */
_Noreturn void tdc_help(const char *text);

/* "text" or "json" from --format, or exit 1. */
const char *tdc_format_arg(const char *verb, const char *arg);

/* Load every file or report the first failure and exit 2. */
tdc_dump **tdc_load_all(char **files, int n);
void tdc_free_all(tdc_dump **d, int n);

/* Flush stdout; on a write error report it and exit 5. */
void tdc_finish_stdout(void);

/* Write to `path` atomically: a temporary file (mode 0600) in the same
 * directory, renamed over `path` once complete - or over the file a
 * symbolic link `path` points to; a device or pipe is written directly.
 * open returns the stream (temporary and final names in *tmp and *dest,
 * both NULL when writing directly) or NULL after reporting; commit
 * returns 0, or an exit status after reporting and removing the temporary
 * file; abort just removes it.  Both free *tmp and *dest.  A tool that
 * exits in between (tdc_die) removes the temporary file on its way out. */
FILE *tdc_atomic_open(const char *path, char **tmp, char **dest);
int tdc_atomic_commit(FILE *f, char *tmp, char *dest, const char *path);
void tdc_atomic_abort(FILE *f, char *tmp, char *dest);

/* Print a dump in a format ("text", grouped, or "json"). */
void tdc_print_dump(FILE *f, const tdc_dump *d, const char *format,
		    bool group);

#endif /* TDC_CLI_H */
