/* util.c - error reporting, allocation, arena, numbers (see util.h). */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tdc_seterr(tdc_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->status = 0;
}

void tdc_seterr_oom(tdc_err *e, const char *name)
{
	snprintf(e->msg, sizeof(e->msg), "out of memory reading %s", name);
	e->status = TDC_EXIT_SYSTEM;
}

int tdc_err_status(const tdc_err *e)
{
	return e->status ? e->status : TDC_EXIT_INPUT;
}

static void verror(const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One line, whatever the message contains. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fflush(stdout);
	fprintf(stderr, "taskdump: %s\n", msg);
}

void tdc_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
}

void tdc_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	exit(code);
}

/* The file being read, for the message of a failed allocation (per
 * thread: several dumps may be read at once, see tdc_load_all). */
static _Thread_local const char *oom_name;

void tdc_oom_reading(const char *name)
{
	oom_name = name;
}

static _Noreturn void oom(void)
{
	if (oom_name)
		tdc_die(TDC_EXIT_SYSTEM, "out of memory reading %s",
			oom_name);
	tdc_die(TDC_EXIT_SYSTEM, "out of memory");
}

void *tdc_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *tdc_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *tdc_xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom();
	return p;
}

char *tdc_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

void *tdc_grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;

	if (need <= *cap)
		return p;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			oom();
		n *= 2;
	}
	if (n > SIZE_MAX / elem)
		oom();
	*cap = n;
	return tdc_xrealloc(p, n * elem);
}

/* ---- arena ----------------------------------------------------------- */

#define CHUNK_SIZE (64u * 1024)

struct tdc_chunk {
	struct tdc_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

void *tdc_arena_alloc(tdc_arena *a, size_t size)
{
	struct tdc_chunk *c = a->head;
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (need < size)
		oom();
	if (!c || c->size - c->used < need) {
		/* Big requests get a chunk of their own, behind the current
		 * one, so the current chunk's free space is not wasted. */
		size_t sz = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;
		struct tdc_chunk *n;

		if (sz > SIZE_MAX - sizeof(*n))
			oom();
		/* calloc'ed: an arena never reuses its memory, so what is
		 * past `used` is still zero, and allocations need no
		 * memset of their own (fresh pages are zero already). */
		n = tdc_xcalloc(1, sizeof(*n) + sz);
		n->used = 0;
		n->size = sz;
		if (c && sz != CHUNK_SIZE) {
			n->next = c->next;
			c->next = n;
		} else {
			n->next = c;
			a->head = n;
		}
		c = n;
	}
	p = c->data + c->used;
	c->used += need;
	return p;
}

/* The room of an array of n elements from tdc_arena_grow: n rounded up
 * to a power of two (0 for 0). */
static size_t arena_room(size_t n)
{
	size_t r = 1;

	if (n == 0)
		return 0;
	while (r < n) {
		if (r > SIZE_MAX / 2)
			oom();
		r *= 2;
	}
	return r;
}

void *tdc_arena_grow(tdc_arena *a, void *p, size_t old_n, size_t new_n,
		     size_t elem)
{
	size_t room = arena_room(new_n);
	void *q;

	if (p && new_n <= arena_room(old_n))
		return p;       /* (zeroed when allocated, never written) */
	if (room > SIZE_MAX / elem)
		oom();
	q = tdc_arena_alloc(a, room * elem);
	if (old_n)
		memcpy(q, p, old_n * elem);
	return q;
}

/* n unaligned bytes of the arena's string chunks (not zeroed). */
static char *arena_bytes(tdc_arena *a, size_t n)
{
	struct tdc_chunk *c = a->bytes;
	char *p;

	if (!c || c->size - c->used < n) {
		/* As tdc_arena_alloc: a big string gets a chunk of its own,
		 * behind the current one. */
		size_t sz = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
		struct tdc_chunk *k;

		if (sz > SIZE_MAX - sizeof(*k))
			oom();
		k = tdc_xmalloc(sizeof(*k) + sz);
		k->used = 0;
		k->size = sz;
		if (c && sz != CHUNK_SIZE) {
			k->next = c->next;
			c->next = k;
		} else {
			k->next = c;
			a->bytes = k;
		}
		c = k;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

char *tdc_arena_strndup(tdc_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		oom();
	p = arena_bytes(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *tdc_arena_clean(tdc_arena *a, const char *s, size_t n, bool bare)
{
	static const char repl[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;
	char *out;

	/* Nearly every string is clean: check first, copy exactly. */
	while (i < n) {
		size_t len = utf8_seq(u + i, n - i);

		if (len == 0 || (len == 1 && (u[i] == 0 || (bare &&
		    (u[i] < 0x20 || u[i] == 0x7f)))))
			break;
		i += len;
	}
	if (i == n)
		return tdc_arena_strndup(a, s, n);
	i = 0;
	if (n > (SIZE_MAX - 1) / 3)
		oom();
	/* The worst case, then what is left given back: the string is the
	 * last thing in its chunk (or alone in its own). */
	out = arena_bytes(a, 3 * n + 1);
	while (i < n) {
		size_t len = utf8_seq(u + i, n - i);
		bool ctl = len == 1 &&
			   (u[i] == 0 ||
			    (bare && (u[i] < 0x20 || u[i] == 0x7f)));

		if (len == 0 || ctl) {
			memcpy(out + o, repl, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	if (a->bytes->data + a->bytes->used == (unsigned char *)out + 3 * n + 1)
		a->bytes->used -= 3 * n - o;
	return out;
}

/* An adopted heap block; the nodes live in the arena's chunks. */
struct tdc_owned {
	struct tdc_owned *next;
	void *p;
};

void tdc_arena_adopt(tdc_arena *a, void *p)
{
	struct tdc_owned *o;

	if (!p)
		return;
	o = tdc_arena_alloc(a, sizeof(*o));
	o->p = p;
	o->next = a->owned;
	a->owned = o;
}

void tdc_arena_free(tdc_arena *a)
{
	struct tdc_chunk *c = a->head;

	/* The blocks first: their nodes are in the chunks. */
	for (struct tdc_owned *o = a->owned; o; o = o->next)
		free(o->p);
	a->owned = NULL;
	for (struct tdc_chunk *b = a->bytes; b; ) {
		struct tdc_chunk *next = b->next;

		free(b);
		b = next;
	}
	a->bytes = NULL;

	while (c) {
		struct tdc_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
}

/* ---- interning ------------------------------------------------------ */

struct tdc_ientry {
	uint64_t hash;
	const char *key;  /* NULL: empty slot */
	size_t len;
	void *val;
};

/* Eight bytes at a time (a byte at a time was a tenth of the time to
 * read a JSON dump): each word is mixed in with a multiply, the tail
 * bytes as a last word, the length last. */
uint64_t tdc_hash(const char *s, size_t n)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = 0xcbf29ce484222325ull, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	if (i < n) {
		w = 0;
		memcpy(&w, s + i, n - i);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	h = (h ^ n) * m;
	return h ^ (h >> 32);
}

static struct tdc_ientry *ifind(const tdc_intern *t, const char *key,
				size_t len, uint64_t h)
{
	size_t i = h & (t->cap - 1);

	for (;; i = (i + 1) & (t->cap - 1)) {
		struct tdc_ientry *e = &t->slots[i];

		if (!e->key || (e->hash == h && e->len == len &&
				memcmp(e->key, key, len) == 0))
			return e;
	}
}

void *tdc_intern_get(const tdc_intern *t, const char *key, size_t len)
{
	struct tdc_ientry *e;

	if (!t->cap)
		return NULL;
	e = ifind(t, key, len, tdc_hash(key, len));
	return e->key ? e->val : NULL;
}

void tdc_intern_put(tdc_intern *t, const char *key, size_t len, void *val)
{
	uint64_t h = tdc_hash(key, len);
	struct tdc_ientry *e;

	if (2 * (t->n + 1) > t->cap) {
		tdc_intern old = *t;

		t->cap = old.cap ? 2 * old.cap : 256;
		/* Written now, not calloc'ed: a fresh calloc'ed block maps
		 * the zero page, read by lookups, so its first store per
		 * page is a copy-on-write fault with a TLB flush on every
		 * processor (tdc_load_all reads dumps on several). */
		if (t->cap > SIZE_MAX / sizeof(*t->slots))
			oom();
		t->slots = tdc_xmalloc(t->cap * sizeof(*t->slots));
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].key)
				*ifind(t, old.slots[i].key, old.slots[i].len,
				       old.slots[i].hash) = old.slots[i];
		free(old.slots);
	}
	e = ifind(t, key, len, h);
	if (!e->key)
		t->n++;
	*e = (struct tdc_ientry){h, key, len, val};
}

void tdc_intern_free(tdc_intern *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* ---- numbers --------------------------------------------------------- */

bool tdc_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool tdc_parse_i64(const char *s, size_t n, int64_t *out)
{
	bool neg = n > 0 && s[0] == '-';
	uint64_t v;

	if (!tdc_parse_u64(s + neg, n - neg, &v))
		return false;
	if (v > (uint64_t)INT64_MAX + neg)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

bool tdc_parse_hex(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	for (size_t i = 2; i < n; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = (v << 4) | (unsigned)d;
	}
	*out = v;
	return true;
}

bool tdc_parse_double(const char *s, size_t n, double *out)
{
	char tmp[64], *end;
	double v;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		/* Keep strtod away from hex floats, inf and nan. */
		if (!((c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '+' || c == 'e' || c == 'E'))
			return false;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	v = strtod(tmp, &end);
	if (end != tmp + n || errno == ERANGE || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool tdc_parse_duration(const char *s, double *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
		{"d", 86400000}, {"", 1000},
	};
	size_t n = strlen(s), num = 0;
	double v;

	while (num < n && ((s[num] >= '0' && s[num] <= '9') || s[num] == '.'))
		num++;
	if (!tdc_parse_double(s, num, &v) || v < 0)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + num, units[i].unit) == 0) {
			v *= units[i].ms;
			if (!isfinite(v) || v > 1e15)
				return false;
			*ms = v;
			return true;
		}
	}
	return false;
}

void tdc_format_ms(double ms, char *buf, size_t size)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, size, "%.0fms", ms);
	else if (ms < 60000)
		snprintf(buf, size, "%.1fs", ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, size, "%dm%02ds", (int)(ms / 60000),
			 (int)(fmod(ms, 60000) / 1000));
	else if (ms < 1e12)
		snprintf(buf, size, "%.0fh%02dm", floor(ms / 3600000),
			 (int)(fmod(ms, 3600000) / 60000));
	else
		snprintf(buf, size, "%.0fh", floor(ms / 3600000));
}

void tdc_format_double(double v, char *buf, size_t size)
{
	if (!isfinite(v)) {
		snprintf(buf, size, "0");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}

char *tdc_memrstr(char *base, char *end, const char *needle)
{
	size_t n = strlen(needle);

	if ((size_t)(end - base) < n)
		return NULL;
	for (char *p = end - n;; p--) {
		if (memcmp(p, needle, n) == 0)
			return p;
		if (p == base)
			return NULL;
	}
}

/* ---- string buffer --------------------------------------------------- */

void tdc_buf_add(tdc_buf *b, const char *s, size_t n)
{
	b->p = tdc_grow(b->p, &b->cap, b->len + n + 1, 1);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void tdc_buf_puts(tdc_buf *b, const char *s)
{
	tdc_buf_add(b, s, strlen(s));
}

void tdc_buf_printf(tdc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->p = tdc_grow(b->p, &b->cap, b->len + (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void tdc_buf_quote(tdc_buf *b, const char *s)
{
	tdc_buf_puts(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			tdc_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			tdc_buf_printf(b, "\\x%02x", c);
		else
			tdc_buf_add(b, s, 1);
	}
	tdc_buf_puts(b, "\"");
}

void tdc_buf_free(tdc_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

double tdc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void tdc_sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
	nanosleep(&ts, NULL);
}
