/* color.h - colour for the reports of the taskdump tool, on a terminal.
 *
 * Whether to colour: --color=auto (the default) colours when stdout is a
 * terminal, TERM is not "dumb" and NO_COLOR is unset or empty; --color=
 * always and --color=never decide alone (an explicit option overrides
 * NO_COLOR, as https://no-color.org asks).
 *
 * How: a painter is a stream that inserts SGR escape sequences into the
 * lines written to it and passes them on to the real output.  It only
 * inserts: with the escapes removed the output is byte for byte what the
 * writers produce, and without a painter nothing changes at all. */
#ifndef TDC_COLOR_H
#define TDC_COLOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

typedef enum tdc_color_when {
	TDC_COLOR_AUTO,
	TDC_COLOR_NEVER,
	TDC_COLOR_ALWAYS,
} tdc_color_when;

/* The kinds of output a painter knows how to colour. */
typedef enum tdc_paint_kind {
	TDC_PAINT_DUMP,   /* the text format (`show`) */
	TDC_PAINT_REPORT, /* `show --summary` and `diff` */
} tdc_paint_kind;

/* Parse a --color value: "auto", "always" or "never" (also "tty", "yes",
 * "force" / "no", "none", like other tools).  false when it is none. */
bool tdc_color_parse(const char *s, tdc_color_when *out);

/* Whether output to `fd` is coloured, given the option (see above). */
bool tdc_color_wanted(tdc_color_when when, int fd);

/* Append line[0..n) (no newline) to out with escapes added for `kind`. */
void tdc_paint_line(tdc_paint_kind kind, const char *line, size_t n,
		    tdc_buf *out);

/* A stream that paints every line written to it and writes it to `out`
 * (exits with status 5 if no stream can be made).  tdc_paint_close
 * writes a last unterminated line, frees the painter and returns fclose's
 * result; errors writing to `out` show on `out` (ferror). */
FILE *tdc_paint_open(FILE *out, tdc_paint_kind kind);
int tdc_paint_close(FILE *painter);

#endif /* TDC_COLOR_H */
