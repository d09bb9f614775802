/* write_buf.c - output buffer, escaping and number formatting shared by the
 * dump writers (see write_buf.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "trace/write_buf.h"

/* Large enough that a 100 000-task dump (tens of MB) takes a few hundred
 * write(2) calls, small enough to allocate on every dump. */
#define TD_WBUF_SIZE (256u * 1024u)

int td_wbuf_init(struct td_wbuf *b, FILE *f)
{
	b->f = f;
	b->err = 0;
	b->flushes = 0;
	b->cache = NULL;
	b->buf = malloc(TD_WBUF_SIZE);
	if (!b->buf)
		return -ENOMEM;
	b->pos = b->buf;
	b->end = b->buf + TD_WBUF_SIZE;
	return 0;
}

void td_wbuf_flush(struct td_wbuf *b)
{
	size_t len = (size_t)(b->pos - b->buf);

	b->pos = b->buf;
	b->flushes++;
	if (len == 0 || b->err)
		return; /* after an error, output is dropped */
	errno = 0;
	if (fwrite(b->buf, 1, len, b->f) != len)
		b->err = errno ? -errno : -EIO;
}

int td_wbuf_finish(struct td_wbuf *b)
{
	td_wbuf_flush(b);
	if (!b->err) {
		errno = 0;
		if (fflush(b->f) != 0)
			b->err = errno ? -errno : -EIO;
		else if (ferror(b->f))
			b->err = -EIO; /* an earlier error on the caller's FILE */
	}
	free(b->buf);
	b->buf = b->pos = b->end = NULL;
	return b->err;
}

void td_wbuf_put_slow(struct td_wbuf *b, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = (size_t)(b->end - b->pos);

		if (room == 0) {
			td_wbuf_flush(b);
			continue;
		}
		if (room > n)
			room = n;
		memcpy(b->pos, s, room);
		b->pos += room;
		s += room;
		n -= room;
	}
}

/* ---- numbers --------------------------------------------------------- */

void td_wbuf_u64(struct td_wbuf *b, uint64_t v)
{
	char tmp[20];
	char *q = tmp + sizeof(tmp);

	do {
		*--q = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	td_wbuf_put(b, q, (size_t)(tmp + sizeof(tmp) - q));
}

void td_wbuf_i64(struct td_wbuf *b, int64_t v)
{
	if (v < 0) {
		td_wbuf_putc(b, '-');
		td_wbuf_u64(b, 0 - (uint64_t)v);
	} else {
		td_wbuf_u64(b, (uint64_t)v);
	}
}

void td_wbuf_hex(struct td_wbuf *b, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[18];
	char *q = tmp + sizeof(tmp);

	do {
		*--q = digits[v & 15];
		v >>= 4;
	} while (v);
	*--q = 'x';
	*--q = '0';
	td_wbuf_put(b, q, (size_t)(tmp + sizeof(tmp) - q));
}

bool td_wbuf_ms3(struct td_wbuf *b, double ms)
{
	if (!isfinite(ms) || ms > 1e15 || ms < -1e15)
		return false;
	double us = ms * 1000.0;
	int64_t v = (int64_t)(us < 0 ? us - 0.5 : us + 0.5);
	char frac[4];

	if (v < 0) {
		td_wbuf_putc(b, '-');
		v = -v;
	}
	td_wbuf_u64(b, (uint64_t)v / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + v / 100 % 10);
	frac[2] = (char)('0' + v / 10 % 10);
	frac[3] = (char)('0' + v % 10);
	td_wbuf_put(b, frac, 4);
	return true;
}

void td_wbuf_time(struct td_wbuf *b, int64_t unix_ms)
{
	int64_t sec = unix_ms / 1000, msec = unix_ms % 1000;
	struct tm tm;
	time_t t;
	char s[64];

	if (msec < 0) {
		msec += 1000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm)); /* out of range: the year 1900 */
	/* Integer conversions do not depend on the locale. */
	int n = snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)msec);
	if (n > 0 && (size_t)n < sizeof(s))
		td_wbuf_put(b, s, (size_t)n);
}

/* ---- escaping -------------------------------------------------------- */

/* Byte classes; each mode escapes the classes in its mask and copies every
 * other byte as it is. */
enum {
	C_CTL = 1,  /* 0x01-0x1f, 0x7f */
	C_SP = 2,   /* ' ' */
	C_QU = 4,   /* '"' */
	C_BS = 8,   /* '\\' */
	C_RB = 16,  /* ']' */
	C_HI = 32,  /* 0x80-0xff: copied only as part of valid UTF-8 */
	C_END = 64, /* 0x00: in every mask, so that scans stop there */
};

static const unsigned char byte_class[256] = {
	[0x00] = C_END,
	[0x01 ... 0x1f] = C_CTL,
	[' '] = C_SP,
	['"'] = C_QU,
	['\\'] = C_BS,
	[']'] = C_RB,
	[0x7f] = C_CTL,
	[0x80 ... 0xff] = C_HI,
};

static const unsigned char mode_mask[] = {
	[TD_ESC_QUOTED] = C_END | C_CTL | C_QU | C_BS | C_HI,
	[TD_ESC_TOKEN] = C_END | C_CTL | C_QU | C_BS | C_HI | C_SP,
	[TD_ESC_FREE] = C_END | C_CTL | C_HI,
	[TD_ESC_WAIT] = C_END | C_CTL | C_HI | C_RB,
};

/* The first byte at or after p that `mask` says needs a look: the hot
 * loop of both escapers, kept tiny so that mask stays in a register. */
static inline const unsigned char *scan(const unsigned char *p,
					unsigned mask)
{
	while (!(byte_class[*p] & mask))
		p++;
	return p;
}

static const char hex_digits[] = "0123456789abcdef";

size_t td_utf8_seq_len(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;

	/* Each test fails on the terminating NUL, so nothing past it is
	 * read. */
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f; /* no UTF-16 surrogates */
		if (s[1] < lo || s[1] > hi)
			return 0;
		return (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static void put_hex_escape(struct td_wbuf *b, unsigned char c)
{
	char *q = td_wbuf_reserve(b, 4);

	q[0] = '\\';
	q[1] = 'x';
	q[2] = hex_digits[c >> 4];
	q[3] = hex_digits[c & 15];
	b->pos += 4;
}

void td_wbuf_text(struct td_wbuf *b, const char *str, enum td_esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)str, *run = p;
	const unsigned mask = mode_mask[mode];

	for (;;) {
		p = scan(p, mask);
		unsigned char c = *p;
		unsigned cls = byte_class[c];
		size_t len;

		if (cls == C_HI && (len = td_utf8_seq_len(p)) != 0) {
			p += len; /* valid UTF-8 stays in the run */
			continue;
		}
		td_wbuf_put(b, (const char *)run, (size_t)(p - run));
		switch (cls) {
		case C_END:
			return;
		case C_CTL:
			if (c == '\n')
				td_wbuf_lit(b, "\\n");
			else if (c == '\t')
				td_wbuf_lit(b, "\\t");
			else
				put_hex_escape(b, c);
			break;
		case C_SP:
			td_wbuf_lit(b, "\\x20");
			break;
		case C_QU:
			td_wbuf_lit(b, "\\\"");
			break;
		case C_BS:
			td_wbuf_lit(b, "\\\\");
			break;
		case C_RB:
			td_wbuf_putc(b, ')');
			break;
		default: /* a byte that is not part of valid UTF-8 */
			put_hex_escape(b, c);
			break;
		}
		run = ++p;
	}
}

static void put_json_ctl(struct td_wbuf *b, unsigned char c)
{
	char *q;

	switch (c) {
	case '\n':
		td_wbuf_lit(b, "\\n");
		return;
	case '\t':
		td_wbuf_lit(b, "\\t");
		return;
	case '\r':
		td_wbuf_lit(b, "\\r");
		return;
	case '\b':
		td_wbuf_lit(b, "\\b");
		return;
	case '\f':
		td_wbuf_lit(b, "\\f");
		return;
	}
	q = td_wbuf_reserve(b, 6);
	memcpy(q, "\\u00", 4);
	q[4] = hex_digits[c >> 4];
	q[5] = hex_digits[c & 15];
	b->pos += 6;
}

void td_wbuf_json_str(struct td_wbuf *b, const char *str)
{
	const unsigned char *p = (const unsigned char *)str, *run = p;
	const unsigned mask = C_END | C_CTL | C_QU | C_BS | C_HI;

	if (!str) {
		td_wbuf_lit(b, "null");
		return;
	}
	td_wbuf_putc(b, '"');
	for (;;) {
		p = scan(p, mask);
		unsigned char c = *p;
		unsigned cls = byte_class[c];
		size_t len;

		if (cls == C_HI && (len = td_utf8_seq_len(p)) != 0) {
			p += len;
			continue;
		}
		td_wbuf_put(b, (const char *)run, (size_t)(p - run));
		if (cls == C_END)
			break;
		if (cls == C_CTL)
			put_json_ctl(b, c);
		else if (cls == C_QU)
			td_wbuf_lit(b, "\\\"");
		else if (cls == C_BS)
			td_wbuf_lit(b, "\\\\");
		else
			td_wbuf_lit(b, "\\ufffd"); /* invalid UTF-8 */
		run = ++p;
	}
	td_wbuf_putc(b, '"');
}

/* ---- shared pieces --------------------------------------------------- */

const char *td_dump_file_name(const char *file)
{
	const char *p = file;

	/* Only leading "./" and "../" components (and the extra slashes
	 * after them) go; anything after the first real component stays. */
	for (;;) {
		if (p[0] == '.' && p[1] == '/')
			p += 2;
		else if (p[0] == '.' && p[1] == '.' && p[2] == '/')
			p += 3;
		else
			break;
		while (*p == '/')
			p++;
	}
	return *p ? p : file;
}

/* A function "name" that is the symbolizer's "module+0x..." fallback for
 * this very module: " in module+0x..." would only repeat it. */
static bool names_module(const char *function, const char *module)
{
	size_t n = strlen(module);

	return strncmp(function, module, n) == 0 && function[n] == '+';
}

void td_wbuf_frame(struct td_wbuf *b, const td_dump_frame *fr)
{
	bool named = fr->function && fr->function[0];

	if (named)
		td_wbuf_text(b, fr->function, TD_ESC_FREE);
	else
		td_wbuf_hex(b, fr->ip);
	if (fr->file) {
		td_wbuf_lit(b, " at ");
		td_wbuf_text(b, td_dump_file_name(fr->file), TD_ESC_FREE);
		td_wbuf_putc(b, ':');
		td_wbuf_i64(b, fr->line > 0 ? fr->line : 0);
	} else if (fr->module && !(named && names_module(fr->function,
							 fr->module))) {
		td_wbuf_lit(b, " in ");
		td_wbuf_text(b, fr->module, TD_ESC_FREE);
		td_wbuf_putc(b, '+');
		td_wbuf_hex(b, fr->module_offset);
	}
	if (fr->inlined)
		td_wbuf_lit(b, " [inlined]");
}

const char *td_dump_wait_text(const td_dump_trace *t, char *tmp, size_t size)
{
	if (t->wait_text)
		return t->wait_text;
	td_wait_format(&t->wait, 0, tmp, size);
	return tmp;
}
