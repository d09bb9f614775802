/* parse_json.c - the JSON dump parser (README.md (dump file formats), "JSON format").
 *
 * A pull parser of its own: the document is read through the input's
 * window one token at a time and walked by the dump's schema straight into
 * the model, so memory is what the model keeps (a few hundred bytes per
 * task), never a tree of the whole document; there is no size limit but
 * memory.  Strict syntax (RFC 8259: no comments, no single quotes, no
 * NaN, no control characters in strings, valid UTF-8; numbers as json-c
 * read them, see number()), nesting at most JSON_DEPTH deep, nothing but
 * white space after the document.
 *
 * Unknown keys are skipped (their values still checked for syntax); a
 * missing key means the same as null; a value of the wrong type is an
 * error that names its path, e.g. "runtimes[0].tasks[3].polls".  Errors
 * are reported where they are found, in document order.
 *
 * What repeats is kept once: short strings through a cache per cleaning
 * mode (struct scache) and frames by their whole contents, so 100 000
 * tasks waiting at one line share their frames and their states, files
 * and names. */
#include "input.h"
#include "textfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The format nests 9 levels deep; leave room, refuse absurd nesting. */
#define JSON_DEPTH 32
/* Strings at most this long are kept once (longer ones rarely repeat). */
#define INTERN_MAX 128
/* The entries of a string cache (a power of two). */
#define SCACHE_SIZE 1024
/* A number's text at most this long (a u64 has 20 digits). */
#define NUM_MAX 64

enum tok {
	T_NONE,   /* no token read yet: the next one is read on demand */
	T_EOF,
	T_STR,
	T_NUM,
	T_TRUE,
	T_FALSE,
	T_NULL,
	T_LBRACE,
	T_RBRACE,
	T_LBRACKET,
	T_RBRACKET,
	T_COLON,
	T_COMMA,
};

/* How a string is cleaned (tdc_arena_clean): printed unquoted (bare),
 * printed quoted, or a wait text (bare, and ']' becomes ')': it ends a
 * text-format annotation).  One string cache each. */
enum mode { M_BARE, M_QUOTED, M_WAIT, M_COUNT };

/* A cache of the strings read, one per cleaning mode: two slots per
 * hash, the last two strings of that hash, the latest first.  What
 * repeats in a dump
 * (names, states, file and function names, wait texts of one object) is
 * kept once as long as it keeps coming back, and a string seen once
 * (most objects and wait texts: one of each per task) costs one slot,
 * not an entry in a table as big as the dump: with 100 000 tasks such
 * a table was a cache miss for every string and a fifth of the model. */
struct scache {
	uint64_t hash;
	const char *key;    /* the decoded bytes; NULL: empty */
	const char *out;    /* the cleaned string */
	size_t len;
};

/* A cache of frames by their JSON text, as struct scache (two slots per
 * hash, the latest first; the keys are its own, freed when they leave
 * it).  The hash is of the first RAW_PREFIX bytes where the object's
 * text starts (its function, file and line), so that a frame is found
 * before its end is: a key is a whole object's text up to its closing
 * '}', and the same bytes at the start of the window are the same
 * object, whatever follows. */
struct rcache {
	uint64_t hash;
	char *key;          /* NULL: empty */
	size_t len;
	const tdc_frame *frame;
};
#define RCACHE_SIZE 1024
#define RAW_PREFIX 96

/* A growable array of elements of one size, reused by one nesting level
 * of the schema (never by two at once, so an element's address stays
 * valid while it is being parsed). */
typedef struct vec {
	void *p;
	size_t n, cap;
} vec;

typedef struct jp {
	tdc_input *in;
	tdc_dump *d;
	tdc_err *e;
	const char *name;
	unsigned long long line;   /* of the next unread byte */
	int depth;                 /* open objects and arrays */
	enum tok tok;              /* the current token, T_NONE: not read */
	unsigned long long tok_line;
	tdc_buf str;               /* T_STR: its decoded bytes */
	tdc_buf key;               /* the current object key */
	bool num_int;              /* T_NUM: no fraction, no exponent */
	bool num_neg;
	bool num_u64;              /* an integer in [0, UINT64_MAX] */
	bool num_i64;              /* an integer in int64_t */
	uint64_t num_u;
	int64_t num_i;
	double num_d;
	char path[256];
	struct scache *strs[M_COUNT]; /* decoded bytes -> cleaned string */
	tdc_intern frames;         /* tdc_frame bytes -> tdc_frame * */
	struct rcache *raw_frames; /* a frame's JSON text -> tdc_frame * */
	vec v_frames, v_traces, v_edges, v_holds, v_members;
} jp;

/* ---- errors ---------------------------------------------------------- */

/* Error "<file>: <path>.<key>: <what>"; returns -1. */
static int jfail(jp *j, const char *key, const char *what)
{
	tdc_seterr(j->e, "%s: %s%s%s: %s", j->name, j->path,
		   j->path[0] && key ? "." : "", key ? key : "", what);
	return -1;
}

/* Error "<file>:<line>: bad JSON: <what>"; returns -1. */
static int jsyntax(jp *j, const char *what)
{
	tdc_seterr(j->e, "%s:%llu: bad JSON: %s", j->name, j->tok_line, what);
	return -1;
}

static int jtruncated(jp *j)
{
	tdc_seterr(j->e, "%s:%llu: JSON document ends too early "
		   "(truncated?)", j->name, j->line);
	return -1;
}

/* ---- bytes ----------------------------------------------------------- */

/* The next byte without consuming it: 0-255, -1 at the end of input, -2
 * on a read error (in j->e). */
static inline int peek_byte(jp *j)
{
	tdc_input *in = j->in;

	if (__builtin_expect(in->start < in->end, 1))
		return (unsigned char)in->buf[in->start];
	{
		const char *p;
		long n = tdc_input_peek(in, 1, &p, j->e);

		if (n < 0)
			return -2;
		if (n == 0)
			return -1;
	}
	return (unsigned char)in->buf[in->start];
}

/* Consume the byte peek_byte returned. */
static inline void skip_byte(jp *j)
{
	if (j->in->buf[j->in->start++] == '\n')
		j->line++;
}

/* Expect the literal's remaining bytes ("rue" of "true"). */
static int literal(jp *j, const char *rest)
{
	for (; *rest; rest++) {
		int c = peek_byte(j);

		if (c == -2)
			return -1;
		if (c == -1)
			return jtruncated(j);
		if (c != *rest)
			return jsyntax(j, "unexpected character (not true, "
				       "false or null)");
		skip_byte(j);
	}
	return 0;
}

/* ---- strings --------------------------------------------------------- */

/* Four hex digits of a \u escape. */
static int hex4(jp *j, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		int c = peek_byte(j);
		unsigned d;

		if (c == -2)
			return -1;
		if (c == -1)
			return jtruncated(j);
		if (c >= '0' && c <= '9')
			d = (unsigned)c - '0';
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)c - 'A' + 10;
		else
			return jsyntax(j, "bad \\u escape");
		skip_byte(j);
		*out = *out << 4 | d;
	}
	return 0;
}

/* Append code point cp as UTF-8 (a lone surrogate becomes U+FFFD). */
static void put_utf8(tdc_buf *b, unsigned cp)
{
	char u[4];

	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp;
		tdc_buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		tdc_buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		tdc_buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		tdc_buf_add(b, u, 4);
	}
}

/* The rest of a \uXXXX escape (after "\u"), with a surrogate pair. */
static int unicode_escape(jp *j, tdc_buf *b)
{
	unsigned cp, lo;
	int c;

	if (hex4(j, &cp) < 0)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		/* A high surrogate: a low one should follow. */
		if ((c = peek_byte(j)) == -2)
			return -1;
		if (c == '\\') {
			skip_byte(j);
			if ((c = peek_byte(j)) == -2)
				return -1;
			if (c != 'u') {
				put_utf8(b, 0xfffd);
				return c == -1 ? jtruncated(j) : 1;
			}
			skip_byte(j);
			if (hex4(j, &lo) < 0)
				return -1;
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				put_utf8(b, 0x10000 + ((cp - 0xd800) << 10) +
						    (lo - 0xdc00));
				return 0;
			}
			put_utf8(b, 0xfffd);
			cp = lo;
		}
	}
	put_utf8(b, cp);
	return 0;
}

/* The bytes of a UTF-8 sequence that starts with c (>= 0x80), checked:
 * shortest form, no surrogates, at most U+10FFFF. */
static int utf8_rest(jp *j, int c, tdc_buf *b)
{
	unsigned char u[4] = {(unsigned char)c};
	unsigned len, cp;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = (unsigned)c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = (unsigned)c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = (unsigned)c & 0x07;
	} else {
		return jsyntax(j, "invalid UTF-8 in a string");
	}
	for (unsigned i = 1; i < len; i++) {
		int k = peek_byte(j);

		if (k == -2)
			return -1;
		if (k == -1)
			return jtruncated(j);
		if ((k & 0xc0) != 0x80)
			return jsyntax(j, "invalid UTF-8 in a string");
		skip_byte(j);
		u[i] = (unsigned char)k;
		cp = cp << 6 | ((unsigned)k & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return jsyntax(j, "invalid UTF-8 in a string");
	tdc_buf_add(b, (const char *)u, len);
	return 0;
}

/* The bytes a string's plain run stops at: '"', '\\', control
 * characters and the start of a UTF-8 sequence. */
static const bool stops_run[256] = {
	[0x00 ... 0x1f] = true, ['"'] = true, ['\\'] = true,
	[0x80 ... 0xff] = true,
};

/* A string's contents after the opening quote, decoded into b.  Plain
 * bytes are copied a run at a time from the window. */
static int string_body(jp *j, tdc_buf *b)
{
	b->len = 0;
	tdc_buf_add(b, "", 0);
	for (;;) {
		tdc_input *in = j->in;
		int c = peek_byte(j);
		const unsigned char *p, *e;
		size_t run;

		if (c == -2)
			return -1;
		if (c == -1)
			return jtruncated(j);
		/* The run of bytes that need no attention. */
		p = (const unsigned char *)in->buf + in->start;
		e = (const unsigned char *)in->buf + in->end;
		/* Eight bytes at a time while none of them stops the run:
		 * no byte >= 0x80, < 0x20, '"' or '\\'. */
		while (e - p >= 8) {
			const uint64_t ones = 0x0101010101010101ull,
				       high = 0x8080808080808080ull;
			uint64_t w, q, bs;

			memcpy(&w, p, 8);
			q = w ^ (ones * '"');
			bs = w ^ (ones * '\\');
			if (((w | ((w - ones * 0x20) & ~w) |
			      ((q - ones) & ~q) | ((bs - ones) & ~bs)) &
			     high) != 0)
				break;
			p += 8;
		}
		while (p < e && !stops_run[*p])
			p++;
		run = (size_t)(p - (const unsigned char *)in->buf) - in->start;
		if (run) {
			if (b->len + run + 1 > b->cap)
				tdc_buf_add(b, in->buf + in->start, run);
			else {
				memcpy(b->p + b->len, in->buf + in->start,
				       run);
				b->len += run;
				b->p[b->len] = '\0';
			}
			in->start += run;
			continue;
		}
		skip_byte(j);
		if (c == '"')
			return 0;
		if (c < 0x20)
			return jsyntax(j, "control character in a string");
		if (c >= 0x80) {
			if (utf8_rest(j, c, b) < 0)
				return -1;
			continue;
		}
		/* A backslash. */
		if ((c = peek_byte(j)) == -2)
			return -1;
		if (c == -1)
			return jtruncated(j);
		skip_byte(j);
		switch (c) {
		case '"': case '\\': case '/':
			tdc_buf_add(b, (const char *)&(char){(char)c}, 1);
			break;
		case 'b':
			tdc_buf_add(b, "\b", 1);
			break;
		case 'f':
			tdc_buf_add(b, "\f", 1);
			break;
		case 'n':
			tdc_buf_add(b, "\n", 1);
			break;
		case 'r':
			tdc_buf_add(b, "\r", 1);
			break;
		case 't':
			tdc_buf_add(b, "\t", 1);
			break;
		case 'u':
			if (unicode_escape(j, b) < 0)
				return -1;
			break;
		default:
			return jsyntax(j, "bad escape in a string");
		}
	}
}

/* ---- numbers --------------------------------------------------------- */

/* The common number, a non-negative integer of at most 18 digits that
 * ends inside the window, read in place: true if it was one (then it is
 * the current token), false to read it the general way (nothing
 * consumed).  Same results as number()'s: an integer below 10^18 is a
 * u64 and an i64, and its double is the correctly rounded conversion,
 * as strtod's. */
static bool number_fast(jp *j)
{
	tdc_input *in = j->in;
	const char *p = in->buf + in->start, *e = in->buf + in->end;
	uint64_t v = 0;
	size_t n = 0;

	while (p + n < e && n < 19 && p[n] >= '0' && p[n] <= '9')
		v = v * 10 + (uint64_t)(p[n++] - '0');
	if (n == 0 || n > 18 || p + n == e)
		return false;
	switch (p[n]) {
	case '-': case '+': case '.': case 'e': case 'E':
		return false;
	}
	in->start += n;
	j->num_neg = false;
	j->num_int = j->num_u64 = j->num_i64 = true;
	j->num_u = v;
	j->num_i = (int64_t)v;
	j->num_d = (double)v;
	j->tok = T_NUM;
	return true;
}

/* A number: the run of number characters that starts with the peeked
 * byte (a digit or '-'). */
static int number(jp *j)
{
	char s[NUM_MAX + 1];
	size_t n = 0, i = 0;
	int c;

	if (number_fast(j))
		return 0;
	while ((c = peek_byte(j)) >= 0 &&
	       ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
		c == 'e' || c == 'E')) {
		if (n == NUM_MAX)
			return jsyntax(j, "number too long");
		s[n++] = (char)c;
		skip_byte(j);
	}
	if (c == -2)
		return -1;
	s[n] = '\0';
	j->num_neg = s[0] == '-';
	/* An integer: an optional '-', then digits.  Anything else must be
	 * a whole decimal number to strtod ("-.5" and "1." too: json-c, the
	 * parser this one replaced, read them, and dumps that it read must
	 * still be read). */
	i = j->num_neg;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	j->num_int = i == n && n > (size_t)j->num_neg;
	if (!j->num_int) {
		char *end;
		bool digit = false;

		for (size_t k = 0; k < n; k++)
			digit |= s[k] >= '0' && s[k] <= '9';
		j->num_d = strtod(s, &end);
		if (!digit || n == 0 || end != s + n)
			return jsyntax(j, "bad number");
	}
	j->num_u64 = j->num_i64 = false;
	if (j->num_int) {
		j->num_u64 = !j->num_neg && tdc_parse_u64(s, n, &j->num_u);
		j->num_i64 = tdc_parse_i64(s, n, &j->num_i);
		j->num_d = strtod(s, NULL);
	}
	j->tok = T_NUM;
	return 0;
}

/* ---- tokens ---------------------------------------------------------- */

/* Read the next token into j->tok.  Returns 0 or -1. */
static int lex(jp *j)
{
	int c;

	for (;;) {
		c = peek_byte(j);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		if (c == '\n')
			j->line++;
		j->in->start++;
	}
	j->tok_line = j->line;
	if (c == -2)
		return -1;
	if (c == -1) {
		j->tok = T_EOF;
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(j);
	skip_byte(j);
	switch (c) {
	case '{': j->tok = T_LBRACE; return 0;
	case '}': j->tok = T_RBRACE; return 0;
	case '[': j->tok = T_LBRACKET; return 0;
	case ']': j->tok = T_RBRACKET; return 0;
	case ':': j->tok = T_COLON; return 0;
	case ',': j->tok = T_COMMA; return 0;
	case '"':
		j->tok = T_STR;
		return string_body(j, &j->str);
	case 't':
		j->tok = T_TRUE;
		return literal(j, "rue");
	case 'f':
		j->tok = T_FALSE;
		return literal(j, "alse");
	case 'n':
		j->tok = T_NULL;
		return literal(j, "ull");
	case '\0':
		return jsyntax(j, "NUL byte (binary data?)");
	}
	return jsyntax(j, "unexpected character");
}

/* The current token, read if it was not yet.  Returns it, or -1. */
static int cur(jp *j)
{
	if (j->tok == T_NONE && lex(j) < 0)
		return -1;
	return (int)j->tok;
}

/* The current token is used up; the next is read on demand (so that
 * nothing is read past the end of the document). */
static void consume(jp *j)
{
	j->tok = T_NONE;
}

/* Consume the current token if it is t; else a syntax error. */
static int expect(jp *j, enum tok t, const char *what)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c == T_EOF)
		return jtruncated(j);
	if (c != (int)t)
		return jsyntax(j, what);
	consume(j);
	return 0;
}

/* ---- structure ------------------------------------------------------- */

/* Enter an object or array whose opening token is current. */
static int open_nested(jp *j)
{
	if (++j->depth > JSON_DEPTH)
		return jsyntax(j, "nesting too deep");
	consume(j);
	return 0;
}

/* Punctuation right where the next token starts (no token read, no
 * space before it: the runtime writes none), consumed in place: true if
 * it was there.  Half of a dump's tokens are ',' and ':'; the general
 * way (lex) is for everything else, with the same result. */
static inline bool take_punct(jp *j, char ch)
{
	tdc_input *in = j->in;

	if (j->tok == T_NONE && in->start < in->end &&
	    in->buf[in->start] == ch) {
		in->start++;
		return true;
	}
	return false;
}

/* The next key of the current object into j->key: returns 1, 0 at its
 * end ('}' consumed), -1 on error.  *first: no member read yet. */
static int next_key(jp *j, bool *first)
{
	bool comma;
	int c;

	if (take_punct(j, '}')) {
		j->depth--;
		return 0;
	}
	comma = !*first && take_punct(j, ',');
	if ((c = cur(j)) < 0)
		return -1;
	if (!comma && c == T_RBRACE) {
		consume(j);
		j->depth--;
		return 0;
	}
	if (!comma && !*first) {
		if (c != T_COMMA)
			return c == T_EOF ? jtruncated(j) :
			       jsyntax(j, "expected ',' or '}'");
		consume(j);
		if ((c = cur(j)) < 0)
			return -1;
	}
	if (c == T_EOF)
		return jtruncated(j);
	if (c != T_STR)
		return jsyntax(j, "expected a key (a string)");
	*first = false;
	{
		/* The key's bytes move to j->key (a swap, not a copy). */
		tdc_buf k = j->key;

		j->key = j->str;
		j->str = k;
	}
	consume(j);
	if (!take_punct(j, ':') && expect(j, T_COLON, "expected ':'") < 0)
		return -1;
	/* The value must be there. */
	if ((c = cur(j)) < 0)
		return -1;
	return c == T_EOF ? jtruncated(j) : 1;
}

/* Another element of the current array: 1 (it is current), 0 at its end
 * (']' consumed), -1 on error. */
static int next_elem(jp *j, bool *first)
{
	bool comma;
	int c;

	if (take_punct(j, ']')) {
		j->depth--;
		return 0;
	}
	comma = !*first && take_punct(j, ',');
	if ((c = cur(j)) < 0)
		return -1;
	if (!comma && c == T_RBRACKET) {
		consume(j);
		j->depth--;
		return 0;
	}
	if (!comma && !*first) {
		if (c != T_COMMA)
			return c == T_EOF ? jtruncated(j) :
			       jsyntax(j, "expected ',' or ']'");
		consume(j);
		if ((c = cur(j)) < 0)
			return -1;
	}
	*first = false;
	if (c == T_EOF)
		return jtruncated(j);
	if (c == T_RBRACE || c == T_RBRACKET || c == T_COMMA ||
	    c == T_COLON)
		return jsyntax(j, "expected a value");
	return 1;
}

/* Skip the current value, checking its syntax (recursion is bounded by
 * JSON_DEPTH). */
static int skip_value(jp *j)
{
	bool first = true;
	int c = cur(j), r;

	if (c < 0)
		return -1;
	switch (c) {
	case T_STR: case T_NUM: case T_TRUE: case T_FALSE: case T_NULL:
		consume(j);
		return 0;
	case T_LBRACE:
		if (open_nested(j) < 0)
			return -1;
		while ((r = next_key(j, &first)) > 0)
			if (skip_value(j) < 0)
				return -1;
		return r;
	case T_LBRACKET:
		if (open_nested(j) < 0)
			return -1;
		while ((r = next_elem(j, &first)) > 0)
			if (skip_value(j) < 0)
				return -1;
		return r;
	case T_EOF:
		return jtruncated(j);
	}
	return jsyntax(j, "expected a value");
}

/* Is the current value null?  (Consumed if so.) */
static int is_null(jp *j)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c == T_NULL) {
		consume(j);
		return 1;
	}
	return 0;
}

/* Enter the object that is the current value (key names it for errors). */
static int begin_object(jp *j, const char *key)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c != T_LBRACE)
		return jfail(j, key, "expected an object");
	return open_nested(j);
}

/* Enter the array that is the current value: 1, or 0 for null. */
static int begin_array(jp *j, const char *key)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c == T_NULL) {
		consume(j);
		return 0;
	}
	if (c != T_LBRACKET)
		return jfail(j, key, "expected an array");
	return open_nested(j) < 0 ? -1 : 1;
}

/* Is the current key `name`?  (Inlined: strlen of a literal is folded,
 * so most keys are told apart by their length alone.) */
static inline bool key_is(const jp *j, const char *name)
{
	size_t n = strlen(name);

	return j->key.len == n && memcmp(j->key.p, name, n) == 0;
}

/* ---- paths ----------------------------------------------------------- */

/* Append "[i]" or ".key[i]" to the path (cut at its size); returns the
 * old length.  Done for every array element, so by hand, not snprintf. */
static size_t path_push(jp *j, const char *key, size_t i)
{
	size_t old = strlen(j->path), n = old, klen = strlen(key), k = 0;
	char digits[24];

	if (old + klen + 24 >= sizeof(j->path))
		return old; /* too deep to say more: the path stays cut */
	if (old && klen)
		j->path[n++] = '.';
	memcpy(j->path + n, key, klen);
	n += klen;
	do
		digits[k++] = (char)('0' + i % 10);
	while ((i /= 10));
	j->path[n++] = '[';
	while (k)
		j->path[n++] = digits[--k];
	j->path[n++] = ']';
	j->path[n] = '\0';
	return old;
}

/* Append ".key" (or "key" at the top); returns the old length. */
static size_t path_key(jp *j, const char *key)
{
	size_t old = strlen(j->path), n = old, klen = strlen(key);

	/* (By hand, not snprintf: once per task and trace.) */
	if (old && n + 1 < sizeof(j->path))
		j->path[n++] = '.';
	if (klen > sizeof(j->path) - 1 - n)
		klen = sizeof(j->path) - 1 - n;
	memcpy(j->path + n, key, klen);
	j->path[n + klen] = '\0';
	return old;
}

/* ---- values ---------------------------------------------------------- */

static void *vec_push(vec *v, size_t elem)
{
	void *e;

	v->p = tdc_grow(v->p, &v->cap, v->n + 1, elem);
	e = (char *)v->p + v->n * elem;
	memset(e, 0, elem);
	v->n++;
	return e;
}

/* The elements from `from` on, copied into the arena; the vector is cut
 * back to `from` (its outer users' elements stay). */
static void *vec_take(jp *j, vec *v, size_t from, size_t elem, size_t *n)
{
	void *q;

	*n = v->n - from;
	q = tdc_arena_alloc(&j->d->arena, *n * elem);
	if (*n)
		memcpy(q, (char *)v->p + from * elem, *n * elem);
	v->n = from;
	return q;
}

/* The current string cleaned for `mode`, one copy per distinct short
 * string. */
static const char *clean_str(jp *j, enum mode mode)
{
	const char *s = j->str.p;
	size_t n = j->str.len;
	struct scache *c = NULL;
	uint64_t h = 0;
	char *out;

	if (n <= INTERN_MAX) {
		h = tdc_hash(s, n);
		c = &j->strs[mode][(h & (SCACHE_SIZE / 2 - 1)) * 2];
		for (int k = 0; k < 2; k++)
			if (c[k].key && c[k].hash == h && c[k].len == n &&
			    memcmp(c[k].key, s, n) == 0)
				return c[k].out;
	}
	out = tdc_arena_clean(&j->d->arena, s, n, mode != M_QUOTED);
	if (mode == M_WAIT)
		for (char *p = out; (p = strchr(p, ']')); )
			*p = ')';
	if (c) {
		/* The key: the result itself when it has the same bytes. */
		const char *key = strlen(out) == n && memcmp(out, s, n) == 0 ?
				  out : tdc_arena_strndup(&j->d->arena, s, n);

		c[1] = c[0];
		c[0] = (struct scache){h, key, out, n};
	}
	return out;
}

static int get_str(jp *j, const char *key, const char **out, enum mode m)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	*out = NULL;
	if (c == T_NULL) {
		consume(j);
		return 0;
	}
	if (c != T_STR)
		return jfail(j, key, "expected a string");
	*out = clean_str(j, m);
	consume(j);
	return 0;
}

static int get_u64(jp *j, const char *key, tdc_u64 *out)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	out->set = false;
	if (c == T_NULL) {
		consume(j);
		return 0;
	}
	if (c != T_NUM || !j->num_u64)
		return jfail(j, key, "expected a non-negative integer");
	out->v = j->num_u;
	out->set = true;
	consume(j);
	return 0;
}

static int get_f64(jp *j, const char *key, tdc_f64 *out)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	out->set = false;
	if (c == T_NULL) {
		consume(j);
		return 0;
	}
	if (c != T_NUM)
		return jfail(j, key, "expected a number");
	out->v = j->num_d;
	if (!isfinite(out->v))
		return jfail(j, key, "expected a finite number");
	out->set = true;
	consume(j);
	return 0;
}

static int get_bool(jp *j, const char *key, bool *out)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c == T_NULL) {
		consume(j);
		return 0;
	}
	if (c != T_TRUE && c != T_FALSE)
		return jfail(j, key, "expected true or false");
	*out = c == T_TRUE;
	consume(j);
	return 0;
}

/* An address: "0x..." (as written) or a plain integer. */
static int get_hex(jp *j, const char *key, tdc_u64 *out)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c != T_STR)
		return get_u64(j, key, out);
	uint64_t v;

	out->set = tdc_parse_hex(j->str.p, j->str.len, &v);
	out->v = v;
	if (!out->set || strlen(j->str.p) != j->str.len)
		return jfail(j, key, "expected a hex string \"0x...\"");
	consume(j);
	return 0;
}

/* ---- the schema ------------------------------------------------------ */

/* A frame object's text at most this long is looked up as such. */
#define RAW_FRAME_MAX 2048

/* The length of the frame object's text that starts in the window at
 * the current '{' (not consumed yet), up to its '}', or 0 when it is not
 * all in the window, is longer than RAW_FRAME_MAX, nests, or holds a
 * byte below 0x20 (a new line would have to be counted).  Within
 * strings, an escaped '"' does not end them. */
static size_t raw_frame_len(const jp *j)
{
	const tdc_input *in = j->in;
	const char *p = in->buf + in->start, *e = in->buf + in->end;
	bool str = false;

	if (j->tok != T_LBRACE || p == in->buf || p[-1] != '{')
		return 0;
	if (e - p > RAW_FRAME_MAX)
		e = p + RAW_FRAME_MAX;
	for (const char *q = p; q < e; q++) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20)
			return 0;
		if (str) {
			if (c == '\\')
				q++;
			else if (c == '"')
				str = false;
		} else if (c == '"') {
			str = true;
		} else if (c == '}') {
			return (size_t)(q - p) + 1;
		} else if (c == '{' || c == '[') {
			return 0;
		}
	}
	return 0;
}


/* One frame object; identical frames are one tdc_frame.  A dump repeats
 * its frames byte for byte (100 000 tasks at one line), so a frame's
 * text seen lately is not parsed again: its frame is looked up by the
 * text (what follows the '{', up to its '}'), which the same bytes
 * parse to every time. */
static int frame(jp *j, const tdc_frame **out)
{
	tdc_frame f;
	const tdc_frame *hit;
	tdc_frame *copy;
	tdc_u64 line = {0};
	bool first = true;
	const char *text = j->in->buf + j->in->start;
	size_t avail = j->in->end - j->in->start, raw = 0;
	struct rcache *rc = NULL;
	char *raw_key = NULL;
	uint64_t rh = 0;
	int r;

	if (j->tok == T_LBRACE && j->in->start > 0 && text[-1] == '{') {
		rh = tdc_hash(text, avail < RAW_PREFIX ? avail : RAW_PREFIX);
		rc = &j->raw_frames[(rh & (RCACHE_SIZE / 2 - 1)) * 2];
		for (int k = 0; k < 2; k++)
			if (rc[k].key && rc[k].hash == rh &&
			    rc[k].len <= avail &&
			    memcmp(rc[k].key, text, rc[k].len) == 0) {
				j->in->start += rc[k].len;
				consume(j);
				*out = rc[k].frame;
				return 0;
			}
		/* Kept before parsing: the window moves on. */
		if ((raw = raw_frame_len(j))) {
			raw_key = tdc_xmalloc(raw);
			memcpy(raw_key, text, raw);
		}
	}
	/* Zeroed whole, padding too: the bytes are the intern key. */
	memset(&f, 0, sizeof(f));
	if (begin_object(j, NULL) < 0)
		goto fail;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "function"))
			r = get_str(j, "function", &f.function, M_BARE);
		else if (key_is(j, "file"))
			r = get_str(j, "file", &f.file, M_BARE);
		else if (key_is(j, "line"))
			r = get_u64(j, "line", &line);
		else if (key_is(j, "inlined"))
			r = get_bool(j, "inlined", &f.inlined);
		else if (key_is(j, "module"))
			r = get_str(j, "module", &f.module, M_BARE);
		else if (key_is(j, "offset"))
			r = get_hex(j, "offset", &f.offset);
		else if (key_is(j, "ip"))
			r = get_hex(j, "ip", &f.ip);
		else
			r = skip_value(j);
		if (r < 0)
			goto fail;
	}
	if (r < 0)
		goto fail;
	if (!f.function || !f.function[0]) {
		jfail(j, "function", "missing");
		goto fail;
	}
	f.line = line.set ? line.v : 0;
	if ((hit = tdc_intern_get(&j->frames, (const char *)&f, sizeof(f)))) {
		*out = hit;
	} else {
		copy = tdc_arena_alloc(&j->d->arena, sizeof(*copy));
		memcpy(copy, &f, sizeof(f));
		tdc_intern_put(&j->frames, (const char *)copy, sizeof(*copy),
			       copy);
		*out = copy;
	}
	if (raw_key) {
		free(rc[1].key);
		rc[1] = rc[0];
		rc[0] = (struct rcache){rh, raw_key, raw, *out};
	}
	return 0;
fail:
	free(raw_key);
	return -1;
}

static int frames(jp *j, const char *key, const tdc_frame ***out,
		  size_t *n)
{
	size_t from = j->v_frames.n, i = 0;
	bool first = true;
	int r = begin_array(j, key);

	*out = NULL;
	*n = 0;
	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, key, i);
		const tdc_frame **slot;

		if (++i > TDC_MAX_FRAMES) {
			j->path[old] = '\0';
			return jfail(j, key, "more frames than the limit of "
				     TDC_STR(TDC_MAX_FRAMES));
		}
		slot = vec_push(&j->v_frames, sizeof(*slot));
		if (frame(j, slot) < 0)
			return -1;
		j->path[old] = '\0';
	}
	if (r < 0)
		return -1;
	*out = vec_take(j, &j->v_frames, from, sizeof(**out), n);
	return 0;
}

/* "events": ["read", "write"] */
static int events(jp *j, tdc_wait *w)
{
	bool first = true;
	int r = begin_array(j, "events");

	if (r <= 0)
		return r;
	w->has_events = true;
	while ((r = next_elem(j, &first)) > 0) {
		if (cur(j) != T_STR)
			return jfail(j, "events", "expected strings");
		if (strcmp(j->str.p, "read") == 0 && j->str.len == 4)
			w->events |= TDC_EV_READ;
		else if (strcmp(j->str.p, "write") == 0 && j->str.len == 5)
			w->events |= TDC_EV_WRITE;
		consume(j);
	}
	return r;
}

static int wait(jp *j, tdc_wait *w)
{
	bool first = true;
	int r = is_null(j);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "kind"))
			r = get_str(j, "kind", &w->kind, M_BARE);
		else if (key_is(j, "text"))
			r = get_str(j, "text", &w->text, M_WAIT);
		else if (key_is(j, "object"))
			r = get_str(j, "object", &w->object, M_BARE);
		else if (key_is(j, "label"))
			r = get_str(j, "label", &w->label, M_BARE);
		else if (key_is(j, "deadline_ms"))
			r = get_u64(j, "deadline_ms", &w->deadline_ms);
		else if (key_is(j, "task_id"))
			r = get_u64(j, "task_id", &w->task_id);
		else if (key_is(j, "count"))
			r = get_u64(j, "count", &w->count);
		else if (key_is(j, "value"))
			r = get_u64(j, "value", &w->value);
		else if (key_is(j, "events"))
			r = events(j, w);
		else if (key_is(j, "fd")) {
			if ((r = is_null(j)) > 0) {
				w->has_fd = false;
				r = 0;
			} else if (r == 0) {
				if (cur(j) != T_NUM || !j->num_int)
					return jfail(j, "fd",
						     "expected an integer");
				w->has_fd = true;
				w->fd = j->num_i64 ? j->num_i : INT64_MAX;
				consume(j);
			}
		} else {
			r = skip_value(j);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

static int trace(jp *j, tdc_trace *t)
{
	bool first = true;
	int r;

	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "wait")) {
			size_t old = path_key(j, "wait");

			r = wait(j, &t->wait);
			j->path[old] = '\0';
		} else if (key_is(j, "truncated")) {
			r = get_bool(j, "truncated", &t->truncated);
		} else if (key_is(j, "frames")) {
			r = frames(j, "frames", &t->frames, &t->nframes);
		} else {
			r = skip_value(j);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

static int spawned(jp *j, tdc_task *t)
{
	tdc_u64 line = {0};
	bool first = true;
	size_t old;
	int r = is_null(j);

	if (r != 0)
		return r < 0 ? -1 : 0;
	old = path_key(j, "spawned");
	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "file"))
			r = get_str(j, "file", &t->spawn_file, M_BARE);
		else if (key_is(j, "line"))
			r = get_u64(j, "line", &line);
		else if (key_is(j, "function"))
			r = get_str(j, "function", &t->spawn_function,
				    M_BARE);
		else
			r = skip_value(j);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	t->spawn_line = line.set ? line.v : 0;
	j->path[old] = '\0';
	return 0;
}

/* {"task": N|null, "why": "..."} */
static int edge(jp *j, tdc_edge *e)
{
	bool first = true;
	int r;

	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "task"))
			r = get_u64(j, "task", &e->task);
		else if (key_is(j, "why"))
			r = get_str(j, "why", &e->why, M_BARE);
		else
			r = skip_value(j);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!e->why)
		return jfail(j, "why", "missing");
	return 0;
}

static int edges(jp *j, const char *key, tdc_edge **out, size_t *n)
{
	size_t from = j->v_edges.n, i = 0;
	bool first = true;
	int r = begin_array(j, key);

	*out = NULL;
	*n = 0;
	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, key, i++);

		if (edge(j, vec_push(&j->v_edges, sizeof(tdc_edge))) < 0)
			return -1;
		j->path[old] = '\0';
	}
	if (r < 0)
		return -1;
	*out = vec_take(j, &j->v_edges, from, sizeof(**out), n);
	return 0;
}

/* [{"kind": "mutex", "object": "0x...", "held_ms": N, "waiters": N,
 *   "permits": N|null, "others": N|null}] */
static int helds(jp *j, tdc_held **out, size_t *n)
{
	size_t from = j->v_holds.n, i = 0;
	bool first = true;
	int r = begin_array(j, "holds");

	*out = NULL;
	*n = 0;
	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, "holds", i++);
		tdc_held *x = vec_push(&j->v_holds, sizeof(*x));
		bool f2 = true;

		if (begin_object(j, NULL) < 0)
			return -1;
		while ((r = next_key(j, &f2)) > 0) {
			if (key_is(j, "kind"))
				r = get_str(j, "kind", &x->kind, M_BARE);
			else if (key_is(j, "object"))
				r = get_str(j, "object", &x->object, M_BARE);
			else if (key_is(j, "held_ms"))
				r = get_u64(j, "held_ms", &x->held_ms);
			else if (key_is(j, "waiters"))
				r = get_u64(j, "waiters", &x->waiters);
			else if (key_is(j, "permits"))
				r = get_u64(j, "permits", &x->permits);
			else if (key_is(j, "others"))
				r = get_u64(j, "others", &x->others);
			else
				r = skip_value(j);
			if (r < 0)
				return -1;
		}
		if (r < 0)
			return -1;
		if (!x->kind || !x->object)
			return jfail(j, x->kind ? "object" : "kind",
				     "missing");
		j->path[old] = '\0';
	}
	if (r < 0)
		return -1;
	*out = vec_take(j, &j->v_holds, from, sizeof(**out), n);
	return 0;
}

/* A member of a deadlock: {"task", "name", "holds", "waits_for"}. */
static int member(jp *j, tdc_dl_member *y)
{
	tdc_u64 id = {0};
	bool first = true, has_edge = false;
	int r;

	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "task")) {
			r = get_u64(j, "task", &id);
		} else if (key_is(j, "name")) {
			r = get_str(j, "name", &y->name, M_QUOTED);
		} else if (key_is(j, "holds")) {
			r = helds(j, &y->holds, &y->nholds);
		} else if (key_is(j, "waits_for")) {
			if ((r = is_null(j)) == 0) {
				r = edge(j, &y->waits_for);
				has_edge = true;
			} else if (r > 0) {
				has_edge = false;
				r = 0;
			}
		} else {
			r = skip_value(j);
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!id.set)
		return jfail(j, "task", "missing");
	y->task = id.v;
	if (!has_edge)
		return jfail(j, "waits_for", "missing");
	return 0;
}

/* "deadlocks": [{"tasks": [member...]}] */
static int deadlocks(jp *j)
{
	tdc_dump *d = j->d;
	vec dls = {0};
	size_t k = 0;
	bool first = true;
	int r = begin_array(j, "deadlocks");

	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, "deadlocks", k++);
		tdc_deadlock *x = vec_push(&dls, sizeof(*x));
		bool f2 = true;

		if (begin_object(j, NULL) < 0)
			goto fail;
		while ((r = next_key(j, &f2)) > 0) {
			size_t from = j->v_members.n, i = 0;
			bool f3 = true;

			if (!key_is(j, "tasks")) {
				if (skip_value(j) < 0)
					goto fail;
				continue;
			}
			if ((r = begin_array(j, "tasks")) < 0)
				goto fail;
			while (r > 0 && (r = next_elem(j, &f3)) > 0) {
				size_t old2 = path_push(j, "tasks", i++);

				if (member(j, vec_push(&j->v_members,
						       sizeof(tdc_dl_member))) < 0)
					goto fail;
				j->path[old2] = '\0';
			}
			if (r < 0)
				goto fail;
			x->members = vec_take(j, &j->v_members, from,
					      sizeof(*x->members),
					      &x->nmembers);
		}
		if (r < 0)
			goto fail;
		j->path[old] = '\0';
	}
	if (r < 0)
		goto fail;
	d->deadlocks = vec_take(j, &dls, 0, sizeof(*d->deadlocks),
				&d->ndeadlocks);
	free(dls.p);
	return 0;
fail:
	free(dls.p);
	return -1;
}

/* When the current key is one of the task's counters (null or missing
 * in older dumps): read it, with *r the result, and return true. */
static bool is_counter(jp *j, tdc_task *t, int *r)
{
	const char *name;
	tdc_u64 *c = tdc_task_counter(t, j->key.p, j->key.len, &name);

	if (c)
		*r = get_u64(j, name, c);
	return c != NULL;
}

/* One task warning: {"kind", "severity", "runtime", "task", "name",
 * "evidence"}. */
static int task_warning(jp *j, tdc_task_warning *w)
{
	tdc_u64 rt = {0}, task = {0};
	bool first = true;
	int r;

	memset(w, 0, sizeof(*w));
	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "kind"))
			r = get_str(j, "kind", &w->kind, M_BARE);
		else if (key_is(j, "severity"))
			r = get_str(j, "severity", &w->severity, M_BARE);
		else if (key_is(j, "runtime"))
			r = get_u64(j, "runtime", &rt);
		else if (key_is(j, "task"))
			r = get_u64(j, "task", &task);
		else if (key_is(j, "name"))
			r = get_str(j, "name", &w->name, M_QUOTED);
		else if (key_is(j, "evidence"))
			r = get_str(j, "evidence", &w->evidence, M_QUOTED);
		else
			r = skip_value(j);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!w->kind || !w->severity || !rt.set || !task.set ||
	    !w->evidence)
		return jfail(j, "kind", "a task warning needs kind, severity, "
			     "runtime, task and evidence");
	w->runtime = rt.v;
	w->task = task.v;
	return 0;
}

/* "task_warnings": [task_warning...] */
static int task_warnings(jp *j)
{
	tdc_dump *d = j->d;
	vec ws = {0};
	size_t k = 0;
	bool first = true;
	int r = begin_array(j, "task_warnings");

	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, "task_warnings", k++);

		if (task_warning(j, vec_push(&ws, sizeof(tdc_task_warning))) <
		    0) {
			free(ws.p);
			return -1;
		}
		j->path[old] = '\0';
	}
	if (r < 0) {
		free(ws.p);
		return -1;
	}
	d->task_warnings = vec_take(j, &ws, 0, sizeof(*d->task_warnings),
				    &d->ntask_warnings);
	free(ws.p);
	return 0;
}

static int task(jp *j, tdc_task *t)
{
	tdc_u64 id = {0};
	bool first = true, traced = true;
	int r;

	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "id")) {
			r = get_u64(j, "id", &id);
		} else if (key_is(j, "name")) {
			r = get_str(j, "name", &t->name, M_QUOTED);
		} else if (key_is(j, "type")) {
			r = get_str(j, "type", &t->type, M_QUOTED);
		} else if (key_is(j, "block_on")) {
			r = get_bool(j, "block_on", &t->block_on);
		} else if (key_is(j, "state")) {
			r = get_str(j, "state", &t->state, M_BARE);
		} else if (key_is(j, "queue")) {
			r = get_str(j, "queue", &t->queue, M_BARE);
		} else if (key_is(j, "queue_worker")) {
			r = get_u64(j, "queue_worker", &t->queue_worker);
		} else if (key_is(j, "polls")) {
			r = get_u64(j, "polls", &t->polls);
		} else if (key_is(j, "idle_ms")) {
			r = get_u64(j, "idle_ms", &t->idle_ms);
		} else if (key_is(j, "worker")) {
			r = get_u64(j, "worker", &t->worker);
		} else if (key_is(j, "spawned")) {
			r = spawned(j, t);
		} else if (key_is(j, "not_traced")) {
			r = get_str(j, "not_traced", &t->not_traced, M_BARE);
		} else if (key_is(j, "traced")) {
			r = get_bool(j, "traced", &traced);
		} else if (key_is(j, "waits_for")) {
			r = edges(j, "waits_for", &t->waits_for,
				  &t->nwaits_for);
		} else if (key_is(j, "holds")) {
			r = helds(j, &t->holds, &t->nholds);
		} else if (is_counter(j, t, &r)) {
			/* a counter (README.md, "Task counters") */
		} else if (key_is(j, "traces")) {
			size_t from = j->v_traces.n, i = 0;
			bool f2 = true;

			if ((r = begin_array(j, "traces")) < 0)
				return -1;
			while (r > 0 && (r = next_elem(j, &f2)) > 0) {
				size_t old = path_push(j, "traces", i++);

				if (trace(j, vec_push(&j->v_traces,
						      sizeof(tdc_trace))) < 0)
					return -1;
				j->path[old] = '\0';
			}
			if (r < 0)
				return -1;
			t->traces = vec_take(j, &j->v_traces, from,
					     sizeof(*t->traces), &t->ntraces);
		} else {
			r = skip_value(j);
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!id.set)
		return jfail(j, "id", "missing");
	t->id = id.v;
	t->traced = traced && !t->not_traced;
	if (!t->state)
		t->state = "unknown";
	return 0;
}

static int syscall(jp *j, tdc_worker *w)
{
	bool first = true;
	size_t old;
	int r = is_null(j);

	if (r != 0)
		return r < 0 ? -1 : 0;
	old = path_key(j, "syscall");
	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "name"))
			r = get_str(j, "name", &w->syscall, M_BARE);
		else if (key_is(j, "fd"))
			r = get_u64(j, "fd", &w->syscall_fd);
		else if (key_is(j, "fd_target"))
			r = get_str(j, "fd_target", &w->syscall_fd_target,
				    M_QUOTED);
		else if (key_is(j, "timeout_ms"))
			r = get_u64(j, "timeout_ms", &w->syscall_timeout_ms);
		else
			r = skip_value(j);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!w->syscall)
		return jfail(j, "name", "missing");
	j->path[old] = '\0';
	return 0;
}

static int worker(jp *j, tdc_worker *w)
{
	tdc_u64 index = {0};
	bool first = true;
	int r;

	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "index"))
			r = get_u64(j, "index", &index);
		else if (key_is(j, "state"))
			r = get_str(j, "state", &w->state, M_BARE);
		else if (key_is(j, "tid"))
			r = get_u64(j, "tid", &w->tid);
		else if (key_is(j, "queued"))
			r = get_u64(j, "queued", &w->queued);
		else if (key_is(j, "held_ms"))
			r = get_f64(j, "held_ms", &w->held_ms);
		else if (key_is(j, "task"))
			r = get_u64(j, "task", &w->task);
		else if (key_is(j, "busy_ms"))
			r = get_u64(j, "busy_ms", &w->busy_ms);
		else if (key_is(j, "native_stack"))
			r = frames(j, "native_stack", &w->stack, &w->nstack);
		else if (key_is(j, "native_stack_error"))
			r = get_str(j, "native_stack_error", &w->stack_error,
				    M_BARE);
		else if (key_is(j, "native_stack_note"))
			r = get_str(j, "native_stack_note", &w->stack_note,
				    M_BARE);
		else if (key_is(j, "syscall"))
			r = syscall(j, w);
		else
			r = skip_value(j);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!index.set)
		return jfail(j, "index", "missing");
	w->index = index.v;
	if (!w->state)
		w->state = "unknown";
	return 0;
}

/* The runtime's tasks: the one big array, grown on the heap and adopted
 * by the arena at its final size. */
static int tasks(jp *j, tdc_runtime *rt)
{
	vec v = {0};
	bool first = true;
	int r = begin_array(j, "tasks");

	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, "tasks", v.n);

		if (task(j, vec_push(&v, sizeof(tdc_task))) < 0) {
			free(v.p);
			return -1;
		}
		j->path[old] = '\0';
	}
	if (r < 0) {
		free(v.p);
		return -1;
	}
	rt->ntasks = v.n;
	rt->tasks = v.n ? tdc_xrealloc(v.p, v.n * sizeof(tdc_task)) : NULL;
	if (!v.n)
		free(v.p);
	tdc_arena_adopt(&j->d->arena, rt->tasks);
	return 0;
}

static int runtime(jp *j, tdc_runtime *rt)
{
	tdc_u64 id = {0};
	vec workers = {0};
	bool first = true;
	int r;

	if (begin_object(j, NULL) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "id")) {
			r = get_u64(j, "id", &id);
		} else if (key_is(j, "name")) {
			r = get_str(j, "name", &rt->name, M_QUOTED);
		} else if (key_is(j, "flavor")) {
			r = get_str(j, "flavor", &rt->flavor, M_BARE);
		} else if (key_is(j, "tasks_total")) {
			r = get_u64(j, "tasks_total", &rt->tasks_total);
		} else if (key_is(j, "traced")) {
			r = get_u64(j, "traced", &rt->traced);
		} else if (key_is(j, "pause_ms")) {
			r = get_f64(j, "pause_ms", &rt->pause_ms);
		} else if (key_is(j, "error")) {
			r = get_str(j, "error", &rt->error, M_QUOTED);
		} else if (key_is(j, "workers")) {
			bool f2 = true;

			workers.n = 0;
			if ((r = begin_array(j, "workers")) < 0)
				break;
			while (r > 0 && (r = next_elem(j, &f2)) > 0) {
				size_t old = path_push(j, "workers",
						       workers.n);

				if (worker(j, vec_push(&workers,
						       sizeof(tdc_worker))) < 0) {
					r = -1;
					break;
				}
				j->path[old] = '\0';
			}
		} else if (key_is(j, "tasks")) {
			r = tasks(j, rt);
		} else {
			r = skip_value(j);
		}
		if (r < 0)
			break;
	}
	if (r == 0 && !id.set)
		r = jfail(j, "id", "missing");
	if (r == 0) {
		rt->id = id.v;
		rt->workers = vec_take(j, &workers, 0, sizeof(*rt->workers),
				       &rt->nworkers);
	}
	free(workers.p);
	return r;
}

static int warnings(jp *j)
{
	tdc_dump *d = j->d;
	vec v = {0};
	bool first = true;
	int r = begin_array(j, "warnings");

	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		const char **slot = vec_push(&v, sizeof(*slot));

		if (cur(j) != T_STR) {
			free(v.p);
			return jfail(j, "warnings", "expected strings");
		}
		*slot = clean_str(j, M_BARE);
		consume(j);
	}
	if (r == 0)
		d->warnings = vec_take(j, &v, 0, sizeof(*d->warnings),
				       &d->nwarnings);
	free(v.p);
	return r;
}

static int runtimes(jp *j, bool *seen)
{
	tdc_dump *d = j->d;
	vec v = {0};
	bool first = true;
	int r = begin_array(j, "runtimes");

	*seen = r > 0;
	if (r <= 0)
		return r;
	while ((r = next_elem(j, &first)) > 0) {
		size_t old = path_push(j, "runtimes", v.n);

		if (runtime(j, vec_push(&v, sizeof(tdc_runtime))) < 0) {
			/* Its tasks are adopted already, if any. */
			r = -1;
			break;
		}
		j->path[old] = '\0';
	}
	if (r == 0)
		d->runtimes = vec_take(j, &v, 0, sizeof(*d->runtimes),
				       &d->nruntimes);
	free(v.p);
	return r;
}

/* The "taskdump" key: the format version, which must be 1. */
static int version(jp *j)
{
	int c = cur(j);

	if (c < 0)
		return -1;
	if (c != T_NUM || !j->num_int)
		return jfail(j, "taskdump", "expected the format version");
	if (!j->num_i64 || j->num_i != 1) {
		tdc_seterr(j->e, "%s: unsupported dump format version %lld "
			   "(this taskdump reads version 1)", j->name,
			   j->num_i64 ? (long long)j->num_i :
			   j->num_neg ? (long long)INT64_MIN :
					(long long)INT64_MAX);
		return -1;
	}
	consume(j);
	j->d->version = 1;
	return 0;
}

static int not_a_dump(jp *j)
{
	tdc_seterr(j->e, "%s: not a taskdump dump (a JSON dump is an object "
		   "with a \"taskdump\" key)", j->name);
	return -1;
}

static int dump(jp *j)
{
	tdc_dump *d = j->d;
	bool first = true, has_version = false, has_runtimes = false;
	tdc_u64 found = {0};
	int c = cur(j), r;

	if (c < 0)
		return -1;
	if (c == T_NULL) {
		tdc_seterr(j->e, "%s: not a taskdump dump (the JSON document "
			   "is null)", j->name);
		return -1;
	}
	if (c == T_EOF)
		return jtruncated(j);
	if (c != T_LBRACE) {
		/* Still a syntax error first, if it is one. */
		if (skip_value(j) < 0)
			return -1;
		return not_a_dump(j);
	}
	if (open_nested(j) < 0)
		return -1;
	while ((r = next_key(j, &first)) > 0) {
		if (key_is(j, "taskdump")) {
			r = version(j);
			has_version = true;
		} else if (key_is(j, "pid")) {
			r = get_u64(j, "pid", &d->pid);
		} else if (key_is(j, "program")) {
			r = get_str(j, "program", &d->program, M_BARE);
		} else if (key_is(j, "time")) {
			r = get_str(j, "time", &d->time, M_BARE);
		} else if (key_is(j, "note")) {
			r = get_str(j, "note", &d->note, M_BARE);
		} else if (key_is(j, "pause_ms")) {
			r = get_f64(j, "pause_ms", &d->pause_ms);
		} else if (key_is(j, "span_ms")) {
			r = get_f64(j, "span_ms", &d->span_ms);
		} else if (key_is(j, "mode")) {
			r = get_str(j, "mode", &d->mode, M_BARE);
		} else if (key_is(j, "unconfirmed_deadlocks")) {
			r = get_u64(j, "unconfirmed_deadlocks",
				    &d->unconfirmed_deadlocks);
		} else if (key_is(j, "unconfirmed_lost_wakeups")) {
			r = get_u64(j, "unconfirmed_lost_wakeups",
				    &d->unconfirmed_lost_wakeups);
		} else if (key_is(j, "capture_ms")) {
			r = get_f64(j, "capture_ms", &d->capture_ms);
		} else if (key_is(j, "symbolize_ms")) {
			r = get_f64(j, "symbolize_ms", &d->symbolize_ms);
		} else if (key_is(j, "total_ms")) {
			r = get_f64(j, "total_ms", &d->total_ms);
		} else if (key_is(j, "runtimes")) {
			r = runtimes(j, &has_runtimes);
		} else if (key_is(j, "warnings")) {
			r = warnings(j);
		} else if (key_is(j, "deadlocks")) {
			r = deadlocks(j);
		} else if (key_is(j, "task_warnings")) {
			r = task_warnings(j);
		} else if (key_is(j, "task_warnings_found")) {
			r = get_u64(j, "task_warnings_found", &found);
		} else {
			r = skip_value(j);
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!has_version)
		return not_a_dump(j);
	if (!has_runtimes)
		return jfail(j, "runtimes", "missing");
	d->task_warnings_found = found.set && found.v > d->ntask_warnings
					 ? found.v
					 : d->ntask_warnings;
	return 0;
}

/* Everything after the document must be white space. */
static int check_trailing(jp *j)
{
	for (;;) {
		int c = peek_byte(j);

		if (c == -2)
			return -1;
		if (c == -1)
			return 0;
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			tdc_seterr(j->e, "%s:%llu: data after the JSON "
				   "document", j->name, j->line);
			return -1;
		}
		skip_byte(j);
	}
}

int tdc_parse_json(tdc_input *in, tdc_dump **out, tdc_err *e)
{
	jp j = {.in = in, .e = e, .name = in->name, .line = 1};
	int rc;

	*out = NULL;
	j.d = tdc_dump_new(in->name, "json");
	for (int m = 0; m < M_COUNT; m++)
		j.strs[m] = tdc_xcalloc(SCACHE_SIZE, sizeof(*j.strs[m]));
	j.raw_frames = tdc_xcalloc(RCACHE_SIZE, sizeof(*j.raw_frames));
	rc = dump(&j);
	if (rc == 0)
		rc = check_trailing(&j);
	tdc_buf_free(&j.str);
	tdc_buf_free(&j.key);
	for (int m = 0; m < M_COUNT; m++)
		free(j.strs[m]);
	tdc_intern_free(&j.frames);
	for (size_t i = 0; i < RCACHE_SIZE; i++)
		free(j.raw_frames[i].key);
	free(j.raw_frames);
	free(j.v_frames.p);
	free(j.v_traces.p);
	free(j.v_edges.p);
	free(j.v_holds.p);
	free(j.v_members.p);
	if (rc < 0) {
		tdc_dump_free(j.d);
		return -1;
	}
	*out = j.d;
	return 0;
}
