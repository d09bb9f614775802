/* fuzz_parse_text.c - libFuzzer target for the text dump parser. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tdc_input in;
	tdc_dump *d = NULL;
	tdc_err e = {.status = 0};

	tdc_input_mem(&in, "fuzz", (const char *)data, size);
	if (tdc_parse_text(&in, &d, &e) == 0)
		fuzz_check(d);
	tdc_input_close(&in);
	tdc_dump_free(d);
	return 0;
}
