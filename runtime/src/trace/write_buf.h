/* write_buf.h - internal: the output buffer of the dump writers.
 *
 * The text and JSON writers build their output in one large buffer and
 * hand it to stdio in big fwrite() calls (glibc passes a chunk larger than
 * the FILE's own buffer straight to write(2)), so a dump of 100 000 tasks
 * costs a few dozen system calls and no per-character stdio call.
 *
 * Errors are sticky: the first failed fwrite() stores -errno in `err`, and
 * every later append only resets the buffer.  Writers check td_wbuf_failed()
 * between tasks to stop early.  td_wbuf_finish() flushes, checks fflush()
 * and ferror() and returns the first error.
 *
 * Also here: the escaping rules both formats share (README.md (dump file formats)), number
 * formatting that does not depend on the C locale (printf's "%f" would write
 * "0,412" under a German LC_NUMERIC), and the frame syntax of the text
 * format, which native stacks and trace trees both use.
 */
#ifndef TD_TRACE_WRITE_BUF_H
#define TD_TRACE_WRITE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "taskdump/dump.h"

struct td_wcache;

/* The longest piece a caller may reserve at once. */
#define TD_WBUF_MAX_RESERVE 256

struct td_wbuf {
	FILE *f;
	char *buf;  /* malloc'ed, TD_WBUF_SIZE bytes */
	char *pos;  /* next byte to write */
	char *end;  /* buf + size */
	int err;    /* 0, or the first error as -errno (sticky) */
	unsigned long flushes; /* times the buffer was emptied */
	struct td_wcache *cache; /* optional, see write_cache.h */
};

/* Allocate the buffer (no cache attached).  Returns 0 or -ENOMEM. */
int td_wbuf_init(struct td_wbuf *b, FILE *f);

/* Write out what is buffered (sets `err` on failure). */
void td_wbuf_flush(struct td_wbuf *b);

/* Flush, fflush(f), check ferror(f), free the buffer.  Returns the first
 * error as -errno (-EIO when stdio did not say which), else 0. */
int td_wbuf_finish(struct td_wbuf *b);

static inline bool td_wbuf_failed(const struct td_wbuf *b)
{
	return b->err != 0;
}

/* Room for n <= TD_WBUF_MAX_RESERVE bytes at b->pos. */
static inline char *td_wbuf_reserve(struct td_wbuf *b, size_t n)
{
	if ((size_t)(b->end - b->pos) < n)
		td_wbuf_flush(b);
	return b->pos;
}

void td_wbuf_put_slow(struct td_wbuf *b, const char *s, size_t n);

static inline void td_wbuf_put(struct td_wbuf *b, const char *s, size_t n)
{
	if ((size_t)(b->end - b->pos) >= n) {
		memcpy(b->pos, s, n);
		b->pos += n;
	} else {
		td_wbuf_put_slow(b, s, n);
	}
}

/* A string literal. */
#define td_wbuf_lit(b, s) td_wbuf_put((b), "" s, sizeof(s) - 1)

static inline void td_wbuf_putc(struct td_wbuf *b, char c)
{
	if (b->pos == b->end)
		td_wbuf_flush(b);
	*b->pos++ = c;
}

/* Decimal numbers. */
void td_wbuf_u64(struct td_wbuf *b, uint64_t v);
void td_wbuf_i64(struct td_wbuf *b, int64_t v);

/* "0x" and lower-case hex digits, no leading zeros ("0x0" for 0). */
void td_wbuf_hex(struct td_wbuf *b, uint64_t v);

/* Milliseconds with exactly three decimals ("2.103"), rounded to the
 * nearest microsecond; locale-independent.  Returns false (writing
 * nothing) when ms is not finite or beyond +-1e15: the caller decides what
 * stands for an unknown value. */
bool td_wbuf_ms3(struct td_wbuf *b, double ms);

/* UTC ISO 8601 with milliseconds: "2026-11-27T15:20:31.123Z". */
void td_wbuf_time(struct td_wbuf *b, int64_t unix_ms);

/* ---- escaping (see README.md (dump file formats)) ----------------------------------- */

enum td_esc_mode {
	/* Inside "...": \" \\ \n \t, \xHH for other control bytes and for
	 * bytes that are not part of valid UTF-8. */
	TD_ESC_QUOTED,
	/* A bare key=value token: as TD_ESC_QUOTED, plus space as \x20. */
	TD_ESC_TOKEN,
	/* Free text that runs to the end of a line or sits in a frame: only
	 * control bytes and invalid UTF-8 are escaped (\n \t \xHH); quotes
	 * and backslashes stay as they are. */
	TD_ESC_FREE,
	/* A wait annotation: TD_ESC_FREE, and ']' becomes ')' so that the
	 * annotation's end is unambiguous. */
	TD_ESC_WAIT,
};

/* Append s (not NULL) escaped for the text format. */
void td_wbuf_text(struct td_wbuf *b, const char *s, enum td_esc_mode mode);

/* Append s as a JSON string literal with its quotes, or `null` for NULL.
 * Control characters become \n \t \r \b \f or \u00XX, DEL \u007f, and a
 * byte that is not part of valid UTF-8 becomes \ufffd: the output is valid
 * JSON whatever the input bytes. */
void td_wbuf_json_str(struct td_wbuf *b, const char *s);

/* Length of the valid UTF-8 sequence starting at s (2..4), or 0 when s
 * does not start one.  s[0] must be >= 0x80; s is NUL-terminated. */
size_t td_utf8_seq_len(const unsigned char *s);

/* ---- shared pieces of both formats ---------------------------------- */

/* A source file name as shown in dumps: the compiler's name with its
 * LEADING "./" and "../" components removed, so that a build-directory-
 * relative name like "../../work/main/examples/demo.c" reads
 * "work/main/examples/demo.c".  Only leading components go: an absolute
 * "/tmp/build/../tests/x.c" is kept whole, and a name that would become
 * empty ("../") is kept as it is.  Returns a pointer into `file`. */
const char *td_dump_file_name(const char *file);

/* The text format's frame syntax:
 *   <function> at <file>:<line>      (line 0 when only the file is known)
 *   <function> in <module>+0x<offset>
 *   <function>                       (also when <function> is already the
 *                                     symbolizer's "<module>+0x..." name)
 * each followed by " [inlined]" for an inlined frame.  A NULL or empty
 * function shows as the address, "0x...". */
void td_wbuf_frame(struct td_wbuf *b, const td_dump_frame *fr);

/* The text of a wait annotation: t->wait_text, or when that is NULL the
 * wait formatted with absolute deadlines.  `tmp` holds the fallback. */
const char *td_dump_wait_text(const td_dump_trace *t, char *tmp, size_t size);

#endif /* TD_TRACE_WRITE_BUF_H */
