/* fuzz_common.h - the property both parser fuzzers check.
 *
 * Any input either fails to parse with a message (never a crash, a leak
 * or undefined behaviour: the fuzzers run under ASan and UBSan), or
 * parses into a dump that the tool's own writers turn into text and JSON
 * that parse again; and text is a fixed point once it went through text
 * once: writing what was read from it gives the same bytes. */
#ifndef TDC_FUZZ_COMMON_H
#define TDC_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "write.h"

static char *fuzz_write(const tdc_dump *d, int json, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	if (json)
		tdc_write_json(f, d);
	else
		tdc_write_text(f, d, 1);
	fclose(f);
	return buf;
}

static tdc_dump *fuzz_reparse(const char *what, const char *buf, size_t len)
{
	tdc_dump *d = NULL;
	tdc_err e = {.status = 0};

	if (tdc_load_mem("rewritten", buf, len, &d, &e) != 0) {
		fprintf(stderr, "the tool cannot read its own %s: %s\n%.*s\n",
			what, e.msg, (int)len, buf);
		abort();
	}
	return d;
}

static void fuzz_check(tdc_dump *d)
{
	size_t jl, l1, l2, l3;
	char *json = fuzz_write(d, 1, &jl);
	tdc_dump *dj = fuzz_reparse("JSON", json, jl);
	char *t1 = fuzz_write(d, 0, &l1);
	tdc_dump *d1 = fuzz_reparse("text", t1, l1);
	char *t2 = fuzz_write(d1, 0, &l2);
	tdc_dump *d2 = fuzz_reparse("text", t2, l2);
	char *t3 = fuzz_write(d2, 0, &l3);

	/* The first trip through text may lose what text cannot say (a
	 * wait's object, which decides grouping); after it, nothing. */
	if (l2 != l3 || memcmp(t2, t3, l2) != 0) {
		fprintf(stderr, "text is not a fixed point:\n%s\n---\n%s\n",
			t2, t3);
		abort();
	}
	tdc_dump_free(dj);
	tdc_dump_free(d1);
	tdc_dump_free(d2);
	free(json);
	free(t1);
	free(t2);
	free(t3);
}

#endif /* TDC_FUZZ_COMMON_H */
