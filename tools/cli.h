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

/* "taskdump: <verb>: <msg> (see 'taskdump <verb> --help')", exit 1. */
_Noreturn void tdc_usage(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report what getopt_long (optstring starting with ':') returned for an
 * unknown option or a missing argument, and exit 1. */
_Noreturn void tdc_bad_option(const char *verb, int c, char **argv);

/* Print a --help text to stdout and exit 0. */
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
