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
 * " 0x55d1c0a01a2b", or nothing when the leaf gave none (never "(nil)").
 * One snprintf per text: dumps format one for every trace. */
#define WITH_OBJ(w, buf, size, with, without, ...)                          \
	((w)->object ? snprintf(buf, size, with, (w)->object, ##__VA_ARGS__) \
		     : snprintf(buf, size, without, ##__VA_ARGS__))

int td_wait_format(const td_wait *w, uint64_t now_ms, char *buf, size_t size)
{
	const char *label = w->label ? w->label : "";
	const char *sep = w->label ? " " : "";

	switch (w->kind) {
	case TD_WAIT_SLEEP: {
		if (now_ms == 0)
			return WITH_OBJ(w, buf, size, "sleep %p until %" PRIu64
					" ms", "sleep until %" PRIu64 " ms",
					w->deadline_ms);
		bool due = w->deadline_ms < now_ms;
		uint64_t d = due ? now_ms - w->deadline_ms
				 : w->deadline_ms - now_ms;
		char span[32];
		if (d < 10000)
			snprintf(span, sizeof(span), "%" PRIu64 " ms", d);
		else
			snprintf(span, sizeof(span), "%.1f s", (double)d / 1e3);
		if (due)
			return WITH_OBJ(w, buf, size, "sleep %p, due %s ago",
					"sleep, due %s ago", span);
		return WITH_OBJ(w, buf, size, "sleep %p, %s left",
				"sleep, %s left", span);
	}
	case TD_WAIT_YIELD:
		return WITH_OBJ(w, buf, size, "yield %p", "yield");
	case TD_WAIT_IO:
		return WITH_OBJ(w, buf, size, "io %p fd %d %s%s%s",
				"io fd %d %s%s%s", w->fd,
				io_direction(w->events), sep, label);
	case TD_WAIT_JOIN:
		return WITH_OBJ(w, buf, size, "join %p task %" PRIu64,
				"join task %" PRIu64, w->task_id);
	case TD_WAIT_MUTEX:
		if (w->task_id)
			return WITH_OBJ(w, buf, size,
					"mutex %p held by task %" PRIu64,
					"mutex held by task %" PRIu64,
					w->task_id);
		return WITH_OBJ(w, buf, size, "mutex %p", "mutex");
	case TD_WAIT_SEMAPHORE:
		return WITH_OBJ(w, buf, size,
				"semaphore %p wants %" PRIu64 " of %" PRIu64
				" available",
				"semaphore wants %" PRIu64 " of %" PRIu64
				" available",
				w->count, w->value);
	case TD_WAIT_CHAN_SEND:
		return WITH_OBJ(w, buf, size,
				"channel %p send, %" PRIu64 "/%" PRIu64 " queued",
				"channel send, %" PRIu64 "/%" PRIu64 " queued",
				w->count, w->value);
	case TD_WAIT_CHAN_RECV:
		return WITH_OBJ(w, buf, size,
				"channel %p recv, %" PRIu64 " queued",
				"channel recv, %" PRIu64 " queued", w->count);
	case TD_WAIT_ONESHOT:
		return WITH_OBJ(w, buf, size, "oneshot %p recv", "oneshot recv");
	case TD_WAIT_NOTIFY:
		return WITH_OBJ(w, buf, size, "notify %p", "notify");
	case TD_WAIT_OTHER:
		/* The label stands for the kind's word: "<label> 0x...". */
		label = label[0] ? label : "other";
		break;
	case TD_WAIT_NONE:
	default:
		label = label[0] ? label : "none";
		break;
	}
	if (w->object)
		return snprintf(buf, size, "%s %p", label, w->object);
	return snprintf(buf, size, "%s", label);
}
