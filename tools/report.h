/* report.h - what `show --summary` and `diff` compute over dumps. */
#ifndef TDC_REPORT_H
#define TDC_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "model.h"

/* A multiset of trace shapes (tdc_trace_shape_equal), in order of first
 * appearance. */
typedef struct tdc_shapes {
	const tdc_trace **rep;  /* the first trace of each shape */
	size_t *count;
	size_t n, cap;
	size_t *table;          /* open addressing: index + 1, 0 empty */
	size_t tcap;
} tdc_shapes;

/* Count one more trace; returns its shape's index. */
size_t tdc_shapes_add(tdc_shapes *s, const tdc_trace *t);
/* The shape's index, or SIZE_MAX. */
size_t tdc_shapes_find(const tdc_shapes *s, const tdc_trace *t);
/* Every trace of every task of the dump. */
void tdc_shapes_add_dump(tdc_shapes *s, const tdc_dump *d);
void tdc_shapes_free(tdc_shapes *s);

/* The one-screen overview of `show --summary`. */
void tdc_summary(FILE *f, const tdc_dump *d);

/* "task 7 "name"" for listings. */
void tdc_task_label(const tdc_task *t, tdc_buf *out);

#endif /* TDC_REPORT_H */
