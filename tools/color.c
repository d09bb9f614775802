/* color.c - when and how the tool's reports are coloured (see color.h).
 *
 * A modest palette, line by line:
 *   dump text  the "task N name=..." and "runtime N name=..." labels bold,
 *              the deadlock section and error task warnings red, other
 *              task warnings, warnings, notes and busy workers yellow, a
 *              leaf's "[waiting: ...]" cyan;
 *   reports    headings (lines at column 0) bold, "Found N ..." and each
 *              "deadlock K" and error kind red, the warning kinds and the
 *              stuck section's heading yellow,
 *              a trace's trailing "[wait]" cyan. */
#include "color.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SGR_BOLD "\033[1m"
#define SGR_RED "\033[31m"
#define SGR_BOLD_RED "\033[1;31m"
#define SGR_YELLOW "\033[33m"
#define SGR_BOLD_YELLOW "\033[1;33m"
#define SGR_CYAN "\033[36m"
#define SGR_RESET "\033[0m"

bool tdc_color_parse(const char *s, tdc_color_when *out)
{
	static const struct {
		const char *name;
		tdc_color_when when;
	} names[] = {
		{"auto", TDC_COLOR_AUTO},     {"tty", TDC_COLOR_AUTO},
		{"if-tty", TDC_COLOR_AUTO},   {"always", TDC_COLOR_ALWAYS},
		{"yes", TDC_COLOR_ALWAYS},    {"force", TDC_COLOR_ALWAYS},
		{"never", TDC_COLOR_NEVER},   {"no", TDC_COLOR_NEVER},
		{"none", TDC_COLOR_NEVER},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].when;
			return true;
		}
	return false;
}

bool tdc_color_wanted(tdc_color_when when, int fd)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

	if (when != TDC_COLOR_AUTO)
		return when == TDC_COLOR_ALWAYS;
	if (no_color && *no_color)
		return false;
	if (!term || !*term || strcmp(term, "dumb") == 0)
		return false;
	return isatty(fd) == 1;
}

/* Does line[0..n) start with `prefix`? */
static bool starts(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(line, prefix, k) == 0;
}

/* The whole line in one colour. */
static void whole(tdc_buf *out, const char *sgr, const char *line,
		  size_t n)
{
	tdc_buf_puts(out, sgr);
	tdc_buf_add(out, line, n);
	tdc_buf_puts(out, SGR_RESET);
}

/* line[0..split) plain, then line[split..n) in one colour. */
static void tail(tdc_buf *out, const char *sgr, const char *line,
		 size_t split, size_t n)
{
	tdc_buf_add(out, line, split);
	whole(out, sgr, line + split, n - split);
}

/* The end of a "task 3" or "runtime 1" label, through a `name="..."`
 * that follows it (quotes inside a name are escaped with '\'). */
static size_t label_end(const char *line, size_t n)
{
	size_t i = 0;

	while (i < n && line[i] != ' ')
		i++;
	i++;
	while (i < n && line[i] != ' ')
		i++;
	if (i >= n || !starts(line + i, n - i, " name=\""))
		return i < n ? i : n;
	for (i += 7; i < n; i++) {
		if (line[i] == '\\')
			i++;
		else if (line[i] == '"')
			return i + 1;
	}
	return n;
}

/* Where the last occurrence of `needle` starts, or n. */
static size_t last_of(const char *line, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = n >= k ? n - k + 1 : 0; i-- > 0;)
		if (memcmp(line + i, needle, k) == 0)
			return i;
	return n;
}

/* A line of the text format (see the palette above). */
static void paint_dump(const char *line, size_t n, tdc_buf *out)
{
	size_t at;

	if (starts(line, n, "task ") || starts(line, n, "runtime ")) {
		at = label_end(line, n);
		whole(out, SGR_BOLD, line, at);
		tdc_buf_add(out, line + at, n - at);
	} else if (starts(line, n, "deadlock") ||
		   starts(line, n, "task_warning error ")) {
		whole(out, SGR_RED, line, n);
	} else if (starts(line, n, "task_warning")) {
		whole(out, SGR_YELLOW, line, n);
	} else if (starts(line, n, "warning ") || starts(line, n, "note ") ||
		   (starts(line, n, "worker ") &&
		    last_of(line, n, " state=busy") < n)) {
		whole(out, SGR_YELLOW, line, n);
	} else if (n && line[n - 1] == ']' &&
		   (at = last_of(line, n, " [waiting: ")) < n) {
		tail(out, SGR_CYAN, line, at + 1, n);
	} else {
		tdc_buf_add(out, line, n);
	}
}

/* A line of `show --summary` or `diff` (see the palette above). */
static void paint_report(const char *line, size_t n, tdc_buf *out)
{
	size_t at;

	if (n == 0) {
		return;
	} else if (starts(line, n, "Found ")) {
		whole(out, SGR_BOLD_RED, line, n);
	} else if (starts(line, n, "Stuck") ||
		   starts(line, n, "Never moved")) {
		whole(out, SGR_BOLD_YELLOW, line, n);
	} else if (line[0] != ' ') {
		whole(out, SGR_BOLD, line, n);
	} else if (starts(line, n, "  deadlock ") ||
		   last_of(line, n, " (error), ") < n) {
		whole(out, SGR_RED, line, n);
	} else if (last_of(line, n, " (warning), ") < n) {
		whole(out, SGR_YELLOW, line, n);
	} else if (line[n - 1] == ']' && (at = last_of(line, n, " [")) < n) {
		tail(out, SGR_CYAN, line, at + 1, n);
	} else {
		tdc_buf_add(out, line, n);
	}
}

void tdc_paint_line(tdc_paint_kind kind, const char *line, size_t n,
		    tdc_buf *out)
{
	if (kind == TDC_PAINT_DUMP)
		paint_dump(line, n, out);
	else
		paint_report(line, n, out);
}

/* A painter: the output, its kind, the line being collected and the
 * painted line being written. */
typedef struct painter {
	FILE *out;
	tdc_paint_kind kind;
	tdc_buf line, painted;
} painter;

/* Paint line[0..n) and write it, with a newline if `nl`. */
static void emit(painter *p, const char *line, size_t n, bool nl)
{
	p->painted.len = 0;
	tdc_paint_line(p->kind, line, n, &p->painted);
	if (nl)
		tdc_buf_add(&p->painted, "\n", 1);
	if (p->painted.len)
		fwrite(p->painted.p, 1, p->painted.len, p->out);
}

/* fopencookie's write: whole lines are painted at once, a partial one
 * waits for its end. */
static ssize_t painter_write(void *cookie, const char *buf, size_t size)
{
	painter *p = cookie;
	size_t start = 0;

	for (size_t i = 0; i < size; i++) {
		if (buf[i] != '\n')
			continue;
		if (p->line.len) {
			tdc_buf_add(&p->line, buf + start, i - start);
			emit(p, p->line.p, p->line.len, true);
			p->line.len = 0;
		} else {
			emit(p, buf + start, i - start, true);
		}
		start = i + 1;
	}
	if (start < size)
		tdc_buf_add(&p->line, buf + start, size - start);
	return (ssize_t)size;
}

/* fopencookie's close: the last line, unterminated, then the painter. */
static int painter_close(void *cookie)
{
	painter *p = cookie;

	if (p->line.len)
		emit(p, p->line.p, p->line.len, false);
	tdc_buf_free(&p->line);
	tdc_buf_free(&p->painted);
	free(p);
	return 0;
}

FILE *tdc_paint_open(FILE *out, tdc_paint_kind kind)
{
	painter *p = tdc_xcalloc(1, sizeof(*p));
	cookie_io_functions_t io = {.write = painter_write,
				    .close = painter_close};
	FILE *f;

	p->out = out;
	p->kind = kind;
	if (!(f = fopencookie(p, "w", io))) {
		free(p);
		tdc_die(TDC_EXIT_SYSTEM, "out of memory");
	}
	return f;
}

int tdc_paint_close(FILE *painter)
{
	return fclose(painter);
}
