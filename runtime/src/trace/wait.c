/* wait.c - naming and formatting wait descriptions (taskdump/trace.h). */
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "taskdump/trace.h"

static const char *const kind_names[] = {
	[TD_WAIT_NONE] = "none",
	[TD_WAIT_SLEEP] = "sleep",
	[TD_WAIT_YIELD] = "yield",
	[TD_WAIT_IO] = "io",
	[TD_WAIT_JOIN] = "join",
	[TD_WAIT_MUTEX] = "mutex",
	[TD_WAIT_SEMAPHORE] = "semaphore",
	[TD_WAIT_CHAN_SEND] = "chan_send",
	[TD_WAIT_CHAN_RECV] = "chan_recv",
	[TD_WAIT_ONESHOT] = "oneshot",
	[TD_WAIT_NOTIFY] = "notify",
	[TD_WAIT_OTHER] = "other",
};

const char *td_wait_kind_name(td_wait_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

static const char *io_direction(uint32_t events)
{
	switch (events & (TD_WAIT_READ | TD_WAIT_WRITE)) {
	case TD_WAIT_READ:
		return "readable";
	case TD_WAIT_WRITE:
		return "writable";
	case TD_WAIT_READ | TD_WAIT_WRITE:
		return "readable|writable";
	default:
		return "ready";
	}
}

/* The output of td_wait_format: snprintf's contract (as much as fits,
 * always NUL-terminated when size > 0; `len` counts every byte, written
 * or not) without snprintf's cost - a dump formats one text for every
 * trace, and parsing a format string was most of that. */
struct wout {
	char *buf;
	size_t size; /* of buf */
	size_t len;  /* bytes produced so far */
};

static void put(struct wout *o, const char *s, size_t n)
{
	if (o->len + 1 < o->size) {
		size_t room = o->size - 1 - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void puts_(struct wout *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct wout *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i, sizeof(tmp) - i);
}

static void put_int(struct wout *o, int v)
{
	if (v < 0) {
		put(o, "-", 1);
		put_u64(o, (uint64_t)0 - (uint64_t)(int64_t)v);
	} else {
		put_u64(o, (uint64_t)v);
	}
}

/* What "%p" prints for a non-NULL pointer: 0x and lower-case hex. */
static void put_ptr(struct wout *o, const void *p)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[2 + 2 * sizeof(uintptr_t)];
	size_t i = sizeof(tmp);
	uintptr_t v = (uintptr_t)p;
	do {
		tmp[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	put(o, tmp + i, sizeof(tmp) - i);
}

/* The kind's word and, when the leaf gave one, the object: the object is
 * the wait's identity, which grouping compares (README.md, "Wait
 * texts"): " 0x55d1c0a01a2b", or nothing (never "(nil)"). */
static void put_head(struct wout *o, const char *word, const td_wait *w)
{
	puts_(o, word);
	if (w->object) {
		put(o, " ", 1);
		put_ptr(o, w->object);
	}
}

/* A sleep's distance from now: "<n> ms" under 10 s, else seconds with
 * one decimal as "%.1f" prints d / 1e3 (the double nearest d / 1000,
 * rounded to nearest).  Only an exact tie in decimal (d % 100 == 50,
 * whose double lies a hair above or below) and huge spans, where the
 * double is not exact, are left to printf itself. */
static void put_span(struct wout *o, uint64_t d)
{
	if (d < 10000) {
		put_u64(o, d);
		put(o, " ms", 3);
		return;
	}
	if (d % 100 == 50 || d >= ((uint64_t)1 << 50)) {
		char tmp[48];
		int n = snprintf(tmp, sizeof(tmp), "%.1f s", (double)d / 1e3);
		put(o, tmp, n > 0 ? (size_t)n : 0);
		return;
	}
	uint64_t tenths = d / 100 + (d % 100 > 50);
	put_u64(o, tenths / 10);
	char frac[2] = {'.', (char)('0' + tenths % 10)};
	put(o, frac, 2);
	put(o, " s", 2);
}

int td_wait_format(const td_wait *w, uint64_t now_ms, char *buf, size_t size)
{
	struct wout o = {buf, size, 0};
	const char *label = w->label ? w->label : "";

	switch (w->kind) {
	case TD_WAIT_SLEEP:
		put_head(&o, "sleep", w);
		if (now_ms == 0) {
			put(&o, " until ", 7);
			put_u64(&o, w->deadline_ms);
			put(&o, " ms", 3);
		} else if (w->deadline_ms < now_ms) {
			put(&o, ", due ", 6);
			put_span(&o, now_ms - w->deadline_ms);
			put(&o, " ago", 4);
		} else {
			put(&o, ", ", 2);
			put_span(&o, w->deadline_ms - now_ms);
			put(&o, " left", 5);
		}
		break;
	case TD_WAIT_YIELD:
		put_head(&o, "yield", w);
		break;
	case TD_WAIT_IO:
		put_head(&o, "io", w);
		put(&o, " fd ", 4);
		put_int(&o, w->fd);
		put(&o, " ", 1);
		puts_(&o, io_direction(w->events));
		if (w->label) {
			put(&o, " ", 1);
			puts_(&o, label);
		}
		break;
	case TD_WAIT_JOIN:
		put_head(&o, "join", w);
		put(&o, " task ", 6);
		put_u64(&o, w->task_id);
		break;
	case TD_WAIT_MUTEX:
		put_head(&o, "mutex", w);
		if (w->task_id) {
			put(&o, " held by task ", 14);
			put_u64(&o, w->task_id);
		}
		break;
	case TD_WAIT_SEMAPHORE:
		put_head(&o, "semaphore", w);
		put(&o, " wants ", 7);
		put_u64(&o, w->count);
		put(&o, " of ", 4);
		put_u64(&o, w->value);
		put(&o, " available", 10);
		break;
	case TD_WAIT_CHAN_SEND:
		put_head(&o, "channel", w);
		put(&o, " send, ", 7);
		put_u64(&o, w->count);
		put(&o, "/", 1);
		put_u64(&o, w->value);
		put(&o, " queued", 7);
		break;
	case TD_WAIT_CHAN_RECV:
		put_head(&o, "channel", w);
		put(&o, " recv, ", 7);
		put_u64(&o, w->count);
		put(&o, " queued", 7);
		break;
	case TD_WAIT_ONESHOT:
		put_head(&o, "oneshot", w);
		put(&o, " recv", 5);
		break;
	case TD_WAIT_NOTIFY:
		put_head(&o, "notify", w);
		break;
	case TD_WAIT_OTHER:
		/* The label stands for the kind's word: "<label> 0x...". */
		put_head(&o, label[0] ? label : "other", w);
		break;
	case TD_WAIT_NONE:
	default:
		put_head(&o, label[0] ? label : "none", w);
		break;
	}
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len > INT_MAX ? INT_MAX : (int)o.len;
}
