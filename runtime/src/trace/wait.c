/* wait.c - naming and formatting wait descriptions (taskdump/trace.h). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

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

/* A wait's text names its object - the wait's identity, which grouping
 * compares (README.md, "Wait texts") - right after the kind's first word:
 * " 0x55d1c0a01a2b", or nothing when the leaf gave none (never "(nil)"). */
static const char *obj(const td_wait *w, char *buf, size_t size)
{
	if (!w->object)
		return "";
	snprintf(buf, size, " %p", w->object);
	return buf;
}

int td_wait_format(const td_wait *w, uint64_t now_ms, char *buf, size_t size)
{
	const char *label = w->label ? w->label : "";
	const char *sep = w->label ? " " : "";
	char o[32];

	switch (w->kind) {
	case TD_WAIT_SLEEP: {
		if (now_ms == 0)
			return snprintf(buf, size, "sleep%s until %" PRIu64 " ms",
					obj(w, o, sizeof(o)), w->deadline_ms);
		bool due = w->deadline_ms < now_ms;
		uint64_t d = due ? now_ms - w->deadline_ms
				 : w->deadline_ms - now_ms;
		char span[32];
		if (d < 10000)
			snprintf(span, sizeof(span), "%" PRIu64 " ms", d);
		else
			snprintf(span, sizeof(span), "%.1f s", (double)d / 1e3);
		return snprintf(buf, size, due ? "sleep%s, due %s ago"
					       : "sleep%s, %s left",
				obj(w, o, sizeof(o)), span);
	}
	case TD_WAIT_YIELD:
		return snprintf(buf, size, "yield%s", obj(w, o, sizeof(o)));
	case TD_WAIT_IO:
		return snprintf(buf, size, "io%s fd %d %s%s%s",
				obj(w, o, sizeof(o)), w->fd,
				io_direction(w->events), sep, label);
	case TD_WAIT_JOIN:
		return snprintf(buf, size, "join%s task %" PRIu64,
				obj(w, o, sizeof(o)), w->task_id);
	case TD_WAIT_MUTEX:
		if (w->task_id)
			return snprintf(buf, size,
					"mutex%s held by task %" PRIu64,
					obj(w, o, sizeof(o)), w->task_id);
		return snprintf(buf, size, "mutex%s", obj(w, o, sizeof(o)));
	case TD_WAIT_SEMAPHORE:
		return snprintf(buf, size,
				"semaphore%s wants %" PRIu64 " of %" PRIu64
				" available",
				obj(w, o, sizeof(o)), w->count, w->value);
	case TD_WAIT_CHAN_SEND:
		return snprintf(buf, size,
				"channel%s send, %" PRIu64 "/%" PRIu64 " queued",
				obj(w, o, sizeof(o)), w->count, w->value);
	case TD_WAIT_CHAN_RECV:
		return snprintf(buf, size, "channel%s recv, %" PRIu64 " queued",
				obj(w, o, sizeof(o)), w->count);
	case TD_WAIT_ONESHOT:
		return snprintf(buf, size, "oneshot%s recv",
				obj(w, o, sizeof(o)));
	case TD_WAIT_NOTIFY:
		return snprintf(buf, size, "notify%s", obj(w, o, sizeof(o)));
	case TD_WAIT_OTHER:
		/* The label stands for the kind's word: "<label> 0x...". */
		return snprintf(buf, size, "%s%s", label[0] ? label : "other",
				obj(w, o, sizeof(o)));
	case TD_WAIT_NONE:
	default:
		return snprintf(buf, size, "%s%s", label[0] ? label : "none",
				obj(w, o, sizeof(o)));
	}
}
