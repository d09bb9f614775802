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
	tcase_add_test(tc, test_umbrella_header_has_dumps);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
