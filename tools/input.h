/* input.h - reading dump files with bounded memory.
 *
 * An input is a file descriptor (a file, or "-" for stdin) or a memory
 * buffer (fuzzers, tests).  Lines are read through a fixed-size window:
 * a line longer than TDC_MAX_LINE is an error, never an allocation. */
#ifndef TDC_INPUT_H
#define TDC_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "util.h"

typedef struct tdc_input {
	const char *name;     /* for messages */
	int fd;               /* -1: memory input */
	bool close_fd;
	const char *mem;      /* memory input */
	size_t memlen, mempos;
	char *buf;            /* read window */
	size_t cap;           /* its size */
	size_t start, end;    /* unread bytes: buf[start..end) */
	bool eof;
	uint64_t lineno;      /* of the last line returned */
	uint64_t size_hint;   /* st_size of a regular file, else 0 */
	bool limited;         /* read no more than limit bytes from fd */
	uint64_t limit;
	uint64_t got;         /* bytes read from fd so far */
} tdc_input;

/* Open `path` ("-": stdin).  Returns 0, or -1 with the reason in *e. */
int tdc_input_open(tdc_input *in, const char *path, tdc_err *e);

/* An input over an open descriptor (closed by tdc_input_close) that ends
 * after `limit` bytes, whatever follows: a file taken from a live process
 * is read up to the size it had when it was checked (tdc_dumpfile_open).
 * `name` is used in messages and must outlive the input. */
void tdc_input_fd(tdc_input *in, const char *name, int fd, uint64_t limit);

/* An input over data[0..len) (not copied). */
void tdc_input_mem(tdc_input *in, const char *name, const char *data,
		   size_t len);

void tdc_input_close(tdc_input *in);

/* Make up to n bytes available at *p (fewer at end of input).  Returns
 * the count, or -1 on a read error. */
long tdc_input_peek(tdc_input *in, size_t n, const char **p, tdc_err *e);

/* The next line without its "\n" (and without a "\r" before it): returns
 * 1 and sets *line and *len, 0 at end of input, -1 on error (too long, read
 * error, last line without "\n", NUL byte).  The line stays valid until
 * the next call. */
int tdc_input_line(tdc_input *in, char **line, size_t *len, tdc_err *e);

/* Read up to n bytes.  Returns the count (0 at end), or -1. */
long tdc_input_read(tdc_input *in, char *dst, size_t n, tdc_err *e);

/* ---- loading dumps --------------------------------------------------- */

/* Detect the format by content and parse.  Returns 0 and the dump, or -1
 * with a one-line message in *e (it names the file). */
int tdc_load_input(tdc_input *in, tdc_dump **out, tdc_err *e);
int tdc_load_file(const char *path, tdc_dump **out, tdc_err *e);
int tdc_load_mem(const char *name, const char *data, size_t len,
		 tdc_dump **out, tdc_err *e);

/* The parsers (parse_text.c, parse_json.c); `in` is positioned at the
 * start.  Error messages name the file (and line, for text). */
int tdc_parse_text(tdc_input *in, tdc_dump **out, tdc_err *e);
int tdc_parse_json(tdc_input *in, tdc_dump **out, tdc_err *e);

#endif /* TDC_INPUT_H */
