/* util.h - small helpers shared by the taskdump command-line tool:
 * exit codes, error reporting, checked allocation, an arena, number and
 * duration parsing, and a growable string buffer.
 *
 * Every error the tool reports is ONE line on stderr, "taskdump: <msg>".
 * Parsers never print: they fill a tdc_err and return -1, so that the
 * caller (or a fuzzer) decides what to do. */
#ifndef TDC_UTIL_H
#define TDC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of every verb (documented in README.md (the taskdump command) and --help). */
enum {
	TDC_EXIT_OK = 0,
	TDC_EXIT_USAGE = 1,   /* bad command line */
	TDC_EXIT_INPUT = 2,   /* unreadable, malformed or unsupported file */
	TDC_EXIT_PROCESS = 3, /* no such process, permission, no agent... */
	TDC_EXIT_TIMEOUT = 4, /* the dump did not appear in time */
	TDC_EXIT_SYSTEM = 5,  /* out of memory, cannot write output, ... */
};

/* Limits that keep memory bounded on hostile input. */
#define TDC_MAX_LINE (1u << 20)          /* text: bytes per line */
#define TDC_MAX_DUMP_FILE (1ull << 30) /* a file taken from a live process */
/* Frames per trace or native stack (a bare number: it is stringified). */
#define TDC_MAX_FRAMES 4096

/* A parser's error message, and the exit status it calls for. */
typedef struct tdc_err {
	char msg[512];
	int status; /* 0: TDC_EXIT_INPUT (see tdc_err_status) */
} tdc_err;

/* Set the message of an input error (a bad or unreadable file). */
void tdc_seterr(tdc_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set "out of memory reading <name>", a system error (TDC_EXIT_SYSTEM):
 * the file may be fine, the machine could not hold it. */
void tdc_seterr_oom(tdc_err *e, const char *name);

/* While `name` (NULL: none) is being read, a failed allocation says "out
 * of memory reading <name>" (status TDC_EXIT_SYSTEM) rather than just
 * "out of memory".  The name must stay valid until it is reset.  Per
 * thread: each thread says what it reads. */
void tdc_oom_reading(const char *name);

/* The exit status for e: TDC_EXIT_INPUT unless it says otherwise. */
int tdc_err_status(const tdc_err *e);

/* Print "taskdump: <msg>" on stderr. */
void tdc_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tdc_error, then exit(code). */
_Noreturn void tdc_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Allocation that reports "out of memory" and exits TDC_EXIT_SYSTEM. */
void *tdc_xmalloc(size_t size);
void *tdc_xcalloc(size_t n, size_t size);
void *tdc_xrealloc(void *p, size_t size);
char *tdc_xstrdup(const char *s);

/* Grow a heap array to hold at least `need` elements of `elem` bytes. */
void *tdc_grow(void *p, size_t *cap, size_t need, size_t elem);

/* ---- arena ----------------------------------------------------------- */

/* A bump allocator: everything a parsed dump holds lives in its arena and
 * is freed at once, so error paths never leak. */
typedef struct tdc_arena {
	struct tdc_chunk *head;
	struct tdc_chunk *bytes;  /* strings: packed, without alignment */
	struct tdc_owned *owned;  /* adopted heap blocks (tdc_arena_adopt) */
} tdc_arena;

/* Zeroed, 16-byte aligned memory owned by the arena. */
void *tdc_arena_alloc(tdc_arena *a, size_t size);
/* The array p of old_n elements (NULL, or what this returned for old_n
 * elements) grown to new_n: in place while its room, old_n rounded up to
 * a power of two, allows, else a copy into twice the room.  So growing
 * by one element at a time (a header line each: 100 000 task warnings or
 * deadlock members) takes O(n) time and arena memory, not O(n^2).  The
 * new elements are zeroed. */
void *tdc_arena_grow(tdc_arena *a, void *p, size_t old_n, size_t new_n,
		     size_t elem);
/* A NUL-terminated copy of s[0..n).  Strings (this and tdc_arena_clean)
 * are packed byte by byte, not aligned: most are short and unique (a
 * wait's object), and a million tasks have millions of them. */
char *tdc_arena_strndup(tdc_arena *a, const char *s, size_t n);
/* Like strndup, but invalid UTF-8 (and NUL bytes) become U+FFFD, and with
 * `bare` also every control character: such strings are printed unquoted
 * and must not break a line or a terminal. */
char *tdc_arena_clean(tdc_arena *a, const char *s, size_t n, bool bare);
/* Make the heap block p (tdc_xmalloc'd, or NULL) the arena's: it is
 * freed with the arena.  Big arrays grown with tdc_grow (100 000 tasks)
 * are adopted once complete, so they take their size once, not the sum
 * of every size they had on the way (as arena copies would). */
void tdc_arena_adopt(tdc_arena *a, void *p);
void tdc_arena_free(tdc_arena *a);

/* ---- interning ------------------------------------------------------ */

/* A map from byte strings to pointers, so that a parser keeps one copy of
 * what repeats (frames, states, file names): 100 000 tasks waiting at the
 * same line share one frame.  Keys are not copied: they must outlive the
 * table (arena memory). */
typedef struct tdc_intern {
	struct tdc_ientry *slots;
	size_t n, cap;
} tdc_intern;

void *tdc_intern_get(const tdc_intern *t, const char *key, size_t len);
void tdc_intern_put(tdc_intern *t, const char *key, size_t len, void *val);
void tdc_intern_free(tdc_intern *t);

/* The hash of s[0..n) that the intern tables use. */
uint64_t tdc_hash(const char *s, size_t n);

/* ---- numbers --------------------------------------------------------- */

/* Decimal digits only, no sign, no overflow; the whole of s[0..n). */
bool tdc_parse_u64(const char *s, size_t n, uint64_t *out);
/* An optional '-' then tdc_parse_u64, within int64_t. */
bool tdc_parse_i64(const char *s, size_t n, int64_t *out);
/* "0x" then hex digits. */
bool tdc_parse_hex(const char *s, size_t n, uint64_t *out);
/* A finite decimal number (strtod syntax, no hex, no inf/nan). */
bool tdc_parse_double(const char *s, size_t n, double *out);

/* A duration: a non-negative number with an optional unit ms, s, m, h or
 * d (none: seconds), e.g. "500ms", "2s", "1.5m".  Stores milliseconds. */
bool tdc_parse_duration(const char *s, double *ms);

/* Format milliseconds for people: "312ms", "4.2s", "5m12s", "2h03m". */
void tdc_format_ms(double ms, char *buf, size_t size);

/* Shortest "%.*g" that reads back as the same double. */
void tdc_format_double(double v, char *buf, size_t size);

/* The last occurrence of `needle` lying wholly in [base, end), or NULL. */
char *tdc_memrstr(char *base, char *end, const char *needle);

/* ---- string buffer --------------------------------------------------- */

typedef struct tdc_buf {
	char *p;
	size_t len, cap;
} tdc_buf;

void tdc_buf_add(tdc_buf *b, const char *s, size_t n);
void tdc_buf_puts(tdc_buf *b, const char *s);
void tdc_buf_printf(tdc_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tdc_buf_free(tdc_buf *b);
/* Append s in double quotes, with \" \\ and \xHH escapes for control
 * characters: names may hold anything, listings stay one line each. */
void tdc_buf_quote(tdc_buf *b, const char *s);

/* Monotonic clock in milliseconds. */
double tdc_now_ms(void);

/* Sleep for ms milliseconds (interrupted sleeps just return early). */
void tdc_sleep_ms(double ms);

#endif /* TDC_UTIL_H */
