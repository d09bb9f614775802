/* test_wait_format.c - the wait texts of README.md ("Wait texts"), kind by
 * kind, with and without an object: td_wait_format names the object (the
 * wait's identity) right after the kind's word and never writes "(nil)".
 *
 * Of the runtime's headers it includes taskdump/taskdump.h alone, which
 * promises every public header - dump.h included (td_dump_write_text is
 * used below).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskdump/taskdump.h"
#include "test_util.h"

#define OBJ ((const void *)0x1000)

struct wcase {
	td_wait w;
	uint64_t now;
	const char *text;
};

static const struct wcase cases[] = {
	{{.kind = TD_WAIT_SLEEP, .deadline_ms = 123}, 0, "sleep until 123 ms"},
	{{.kind = TD_WAIT_SLEEP, .object = OBJ, .deadline_ms = 123}, 0,
	 "sleep 0x1000 until 123 ms"},
	{{.kind = TD_WAIT_SLEEP, .deadline_ms = 150}, 100, "sleep, 50 ms left"},
	{{.kind = TD_WAIT_SLEEP, .deadline_ms = 20100}, 100,
	 "sleep, 20.0 s left"},
	{{.kind = TD_WAIT_SLEEP, .deadline_ms = 50}, 100,
	 "sleep, due 50 ms ago"},
	{{.kind = TD_WAIT_SLEEP, .object = OBJ, .deadline_ms = 150}, 100,
	 "sleep 0x1000, 50 ms left"},
	{{.kind = TD_WAIT_YIELD}, 0, "yield"},
	{{.kind = TD_WAIT_YIELD, .object = OBJ}, 0, "yield 0x1000"},
	{{.kind = TD_WAIT_IO, .object = OBJ, .fd = 4, .events = TD_WAIT_READ,
	  .label = "read"}, 0, "io 0x1000 fd 4 readable read"},
	{{.kind = TD_WAIT_IO, .fd = 4, .events = TD_WAIT_WRITE}, 0,
	 "io fd 4 writable"},
	{{.kind = TD_WAIT_IO, .object = OBJ, .fd = 0,
	  .events = TD_WAIT_READ | TD_WAIT_WRITE}, 0,
	 "io 0x1000 fd 0 readable|writable"},
	{{.kind = TD_WAIT_IO, .object = OBJ, .fd = 9}, 0, "io 0x1000 fd 9 ready"},
	{{.kind = TD_WAIT_JOIN, .task_id = 7}, 0, "join task 7"},
	{{.kind = TD_WAIT_JOIN, .object = OBJ, .task_id = 7}, 0,
	 "join 0x1000 task 7"},
	{{.kind = TD_WAIT_MUTEX, .object = OBJ, .task_id = 5}, 0,
	 "mutex 0x1000 held by task 5"},
	{{.kind = TD_WAIT_MUTEX, .object = OBJ}, 0, "mutex 0x1000"},
	{{.kind = TD_WAIT_MUTEX}, 0, "mutex"},
	{{.kind = TD_WAIT_SEMAPHORE, .object = OBJ, .count = 2, .value = 1}, 0,
	 "semaphore 0x1000 wants 2 of 1 available"},
	{{.kind = TD_WAIT_CHAN_SEND, .object = OBJ, .count = 1, .value = 4}, 0,
	 "channel 0x1000 send, 1/4 queued"},
	{{.kind = TD_WAIT_CHAN_RECV, .object = OBJ, .count = 0}, 0,
	 "channel 0x1000 recv, 0 queued"},
	{{.kind = TD_WAIT_ONESHOT, .object = OBJ}, 0, "oneshot 0x1000 recv"},
	{{.kind = TD_WAIT_NOTIFY, .object = OBJ}, 0, "notify 0x1000"},
	{{.kind = TD_WAIT_NOTIFY}, 0, "notify"},
	{{.kind = TD_WAIT_OTHER, .object = OBJ, .label = "gate"}, 0,
	 "gate 0x1000"},
	{{.kind = TD_WAIT_OTHER, .label = "gate"}, 0, "gate"},
	{{.kind = TD_WAIT_OTHER, .object = OBJ}, 0, "other 0x1000"},
	{{.kind = TD_WAIT_OTHER}, 0, "other"},
	{{.kind = TD_WAIT_NONE}, 0, "none"},
	{{.kind = TD_WAIT_NONE, .label = "resting"}, 0, "resting"},
};

START_TEST(test_wait_text)
{
	const struct wcase *c = &cases[_i];
	char buf[128];
	int n = td_wait_format(&c->w, c->now, buf, sizeof(buf));

	ck_assert_str_eq(buf, c->text);
	ck_assert_int_eq(n, (int)strlen(c->text));
	ck_assert_msg(!strstr(buf, "nil"), "%s", buf);
}
END_TEST

/* A too small buffer: truncated and terminated, the length still the
 * whole text's (snprintf's contract). */
START_TEST(test_wait_text_truncated)
{
	td_wait w = {.kind = TD_WAIT_IO, .object = OBJ, .fd = 4,
		     .events = TD_WAIT_READ, .label = "read"};
	char buf[8];

	ck_assert_int_eq(td_wait_format(&w, 0, buf, sizeof(buf)),
			 (int)strlen("io 0x1000 fd 4 readable read"));
	ck_assert_str_eq(buf, "io 0x10");
}
END_TEST

/* The texts as printf writes them, the README's table in format strings:
 * td_wait_format writes its numbers itself (a dump formats one text per
 * trace), and must give these bytes exactly. */
static void printf_text(const td_wait *w, uint64_t now, char *buf,
			size_t size)
{
	char head[64], span[32];
	const char *word = "none";
	switch (w->kind) {
	case TD_WAIT_SLEEP: word = "sleep"; break;
	case TD_WAIT_YIELD: word = "yield"; break;
	case TD_WAIT_IO: word = "io"; break;
	case TD_WAIT_JOIN: word = "join"; break;
	case TD_WAIT_MUTEX: word = "mutex"; break;
	case TD_WAIT_SEMAPHORE: word = "semaphore"; break;
	case TD_WAIT_CHAN_SEND: case TD_WAIT_CHAN_RECV: word = "channel"; break;
	case TD_WAIT_ONESHOT: word = "oneshot"; break;
	case TD_WAIT_NOTIFY: word = "notify"; break;
	case TD_WAIT_OTHER:
		word = w->label && w->label[0] ? w->label : "other";
		break;
	default:
		word = w->label && w->label[0] ? w->label : "none";
		break;
	}
	if (w->object)
		snprintf(head, sizeof(head), "%s %p", word, w->object);
	else
		snprintf(head, sizeof(head), "%s", word);
	uint64_t d = w->deadline_ms > now ? w->deadline_ms - now
					  : now - w->deadline_ms;
	if (d < 10000)
		snprintf(span, sizeof(span), "%llu ms", (unsigned long long)d);
	else
		snprintf(span, sizeof(span), "%.1f s", (double)d / 1e3);
	static const char *const dirs[] = {"ready", "readable", "writable",
					   "readable|writable"};
	unsigned long long c = w->count, v = w->value, id = w->task_id;
	switch (w->kind) {
	case TD_WAIT_SLEEP:
		if (now == 0)
			snprintf(buf, size, "%s until %llu ms", head,
				 (unsigned long long)w->deadline_ms);
		else if (w->deadline_ms < now)
			snprintf(buf, size, "%s, due %s ago", head, span);
		else
			snprintf(buf, size, "%s, %s left", head, span);
		break;
	case TD_WAIT_IO:
		snprintf(buf, size, "%s fd %d %s%s%s", head, w->fd,
			 dirs[w->events & 3], w->label ? " " : "",
			 w->label ? w->label : "");
		break;
	case TD_WAIT_JOIN:
		snprintf(buf, size, "%s task %llu", head, id);
		break;
	case TD_WAIT_MUTEX:
		if (id)
			snprintf(buf, size, "%s held by task %llu", head, id);
		else
			snprintf(buf, size, "%s", head);
		break;
	case TD_WAIT_SEMAPHORE:
		snprintf(buf, size, "%s wants %llu of %llu available", head, c,
			 v);
		break;
	case TD_WAIT_CHAN_SEND:
		snprintf(buf, size, "%s send, %llu/%llu queued", head, c, v);
		break;
	case TD_WAIT_CHAN_RECV:
		snprintf(buf, size, "%s recv, %llu queued", head, c);
		break;
	case TD_WAIT_ONESHOT:
		snprintf(buf, size, "%s recv", head);
		break;
	default:
		snprintf(buf, size, "%s", head);
		break;
	}
}

/* Many waits of every kind, with spans around each rounding edge of
 * "%.1f s" (x.x49, x.x50, x.x51 s), huge numbers, negative descriptors:
 * td_wait_format gives printf's bytes. */
START_TEST(test_wait_text_as_printf)
{
	static const char *const labels[] = {NULL, "", "read", "gate"};
	uint64_t state = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 200000; i++) {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		uint64_t r = state;
		uint64_t now = (r & 7) == 0 ? 0 : 1000000000ull;
		uint64_t d;
		switch ((r >> 3) & 3) {
		case 0: d = (r >> 8) % 20000; break;
		case 1: d = ((r >> 8) % 100000) * 100 + 49 + (r >> 40) % 3; break;
		case 2: d = (r >> 8) % 4000000000ull; break;
		default: d = r >> 20; break;
		}
		td_wait w = {
			.kind = (td_wait_kind)((r >> 5) % (TD_WAIT_OTHER + 2)),
			.object = (r >> 9) & 1 ? (void *)(uintptr_t)(r >> 12)
					       : NULL,
			.label = labels[(r >> 10) & 3],
			.deadline_ms = (r >> 11) & 1 && d <= now ? now - d
								  : now + d,
			.task_id = (r >> 13) & 1 ? r >> 30 : 0,
			.count = r >> 44,
			.value = (r >> 14) & 1 ? UINT64_MAX : r >> 50,
			.fd = (int)(r >> 33) - (1 << 30),
			.events = (uint32_t)(r >> 15) & 3,
		};
		if (w.kind > TD_WAIT_OTHER)
			w.kind = TD_WAIT_NONE;
		char want[256], got[256];
		printf_text(&w, now, want, sizeof(want));
		int n = td_wait_format(&w, now, got, sizeof(got));
		ck_assert_str_eq(got, want);
		ck_assert_int_eq(n, (int)strlen(want));
	}
}
END_TEST

/* taskdump.h brings dump.h: an empty dump written as text. */
START_TEST(test_umbrella_header_has_dumps)
{
	td_dump d = {.version = TD_DUMP_FORMAT_VERSION, .program = "x"};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_text(&d, f, NULL), 0);
	fclose(f);
	ck_assert(strncmp(out, "taskdump 1\n", 11) == 0);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wait_format");
	TCase *tc = tcase_create("texts");
	tcase_add_loop_test(tc, test_wait_text, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_wait_text_truncated);
	tcase_add_test(tc, test_wait_text_as_printf);
	tcase_add_test(tc, test_umbrella_header_has_dumps);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
