/* write.h - printing dumps in the formats of README.md (dump file formats).
 *
 * Both writers produce files that the parsers read back to the same model
 * (what the format can carry), so `taskdump show` output can be fed to
 * `taskdump show`, `diff` and `fold` again. */
#ifndef TDC_WRITE_H
#define TDC_WRITE_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"

/* The text format.  `group`: tasks with identical traces (every frame
 * equal, waits of the same kind on the same object) share one tree. */
void tdc_write_text(FILE *f, const tdc_dump *d, bool group);

/* The compact view of a terminal (README.md, "taskdump show"): the text
 * format's header, runtime and worker lines, then one block per group of
 * tasks with identical traces - "N tasks: <id ranges>" with what they
 * share and the range of their idle times, the task lines of members that
 * hold a lock or have a task warning, and the tree once.  A task alone in
 * its group gets its entry as in the text format.  For reading, not for
 * parsing back. */
void tdc_write_compact(FILE *f, const tdc_dump *d);

/* The JSON format, one object, 2-space indented, ending in a newline. */
void tdc_write_json(FILE *f, const tdc_dump *d);

/* A frame in the text syntax ("fn at file:line [inlined]", ...). */
void tdc_frame_text(const tdc_frame *fr, tdc_buf *out);

/* For each task of rt, the index of the first task with identical traces
 * (itself if none, or if it has no traces).  Caller frees. */
size_t *tdc_group_tasks(const tdc_runtime *rt);

#endif /* TDC_WRITE_H */
