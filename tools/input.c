/* input.c - bounded reading of dump files and format detection. */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The window holds one maximal line plus a read's worth of bytes. */
#define WINDOW (TDC_MAX_LINE + 65536)
/* A read brings at most this much more: the window's pages beyond it are
 * touched only by a line that needs them (a megabyte less of memory for
 * every file, and what was read is still in the cache when it is
 * parsed). */
#define READ_CHUNK (64u * 1024)

int tdc_input_open(tdc_input *in, const char *path, tdc_err *e)
{
	struct stat st;

	memset(in, 0, sizeof(*in));
	if (strcmp(path, "-") == 0) {
		in->name = "<stdin>";
		in->fd = STDIN_FILENO;
	} else {
		in->name = path;
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			tdc_seterr(e, "cannot open %s: %s", path,
				   strerror(errno));
			return -1;
		}
		in->close_fd = true;
	}
	if (fstat(in->fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			tdc_seterr(e, "%s: is a directory", in->name);
			tdc_input_close(in);
			return -1;
		}
		if (S_ISREG(st.st_mode))
			in->size_hint = (uint64_t)st.st_size;
	}
	return 0;
}

void tdc_input_fd(tdc_input *in, const char *name, int fd, uint64_t limit)
{
	memset(in, 0, sizeof(*in));
	in->name = name;
	in->fd = fd;
	in->close_fd = true;
	in->limited = true;
	in->limit = limit;
	in->size_hint = limit;
}

void tdc_input_mem(tdc_input *in, const char *name, const char *data,
		   size_t len)
{
	memset(in, 0, sizeof(*in));
	in->name = name;
	in->fd = -1;
	in->mem = data;
	in->memlen = len;
	in->size_hint = len;
}

void tdc_input_close(tdc_input *in)
{
	if (in->close_fd)
		close(in->fd);
	in->close_fd = false;
	free(in->buf);
	in->buf = NULL;
}

/* Read more bytes into the window.  Returns 0, or -1 on error. */
static int fill(tdc_input *in, tdc_err *e)
{
	size_t room;

	if (!in->buf) {
		/* A memory input needs no more than itself (fuzzers parse
		 * millions of small inputs). */
		in->cap = in->fd < 0 && in->memlen < WINDOW ? in->memlen + 1 :
							      WINDOW;
		in->buf = tdc_xmalloc(in->cap);
	}
	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	room = in->cap - in->end;
	if (room == 0 || in->eof)
		return 0;
	if (room > READ_CHUNK)
		room = READ_CHUNK;
	if (in->fd < 0) {
		size_t n = in->memlen - in->mempos;

		if (n > room)
			n = room;
		memcpy(in->buf + in->end, in->mem + in->mempos, n);
		in->mempos += n;
		in->end += n;
		if (n == 0)
			in->eof = true;
		return 0;
	}
	if (in->limited) {
		if (in->got >= in->limit) {
			in->eof = true;
			return 0;
		}
		if (room > in->limit - in->got)
			room = (size_t)(in->limit - in->got);
	}
	for (;;) {
		ssize_t n = read(in->fd, in->buf + in->end, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tdc_seterr(e, "cannot read %s: %s", in->name,
				   strerror(errno));
			return -1;
		}
		if (n == 0)
			in->eof = true;
		in->end += (size_t)n;
		in->got += (uint64_t)n;
		return 0;
	}
}

long tdc_input_peek(tdc_input *in, size_t n, const char **p, tdc_err *e)
{
	if (n > WINDOW)
		n = WINDOW;
	while (in->end - in->start < n && !in->eof)
		if (fill(in, e) < 0)
			return -1;
	*p = in->buf ? in->buf + in->start : "";
	return (long)(in->end - in->start < n ? in->end - in->start : n);
}

int tdc_input_line(tdc_input *in, char **line, size_t *len, tdc_err *e)
{
	size_t scanned = 0;

	for (;;) {
		char *s = in->buf ? in->buf + in->start : NULL;
		size_t avail = in->end - in->start;
		char *nl = s ? memchr(s + scanned, '\n', avail - scanned) :
			       NULL;

		if (nl) {
			size_t n = (size_t)(nl - s);

			in->lineno++;
			in->start += n + 1;
			if (memchr(s, '\0', n)) {
				tdc_seterr(e, "%s:%llu: NUL byte (binary "
					   "data?)",
					   in->name,
					   (unsigned long long)in->lineno);
				return -1;
			}
			if (n > 0 && s[n - 1] == '\r')
				n--;
			s[n] = '\0';
			*line = s;
			*len = n;
			return 1;
		}
		scanned = avail;
		if (avail > TDC_MAX_LINE) {
			tdc_seterr(e, "%s:%llu: line longer than %u bytes",
				   in->name,
				   (unsigned long long)in->lineno + 1,
				   TDC_MAX_LINE);
			return -1;
		}
		if (in->eof) {
			if (avail == 0)
				return 0;
			tdc_seterr(e, "%s:%llu: file ends in the middle of a "
				   "line (truncated?)", in->name,
				   (unsigned long long)in->lineno + 1);
			return -1;
		}
		if (fill(in, e) < 0)
			return -1;
	}
}

long tdc_input_read(tdc_input *in, char *dst, size_t n, tdc_err *e)
{
	size_t avail;

	if (in->end == in->start && !in->eof && fill(in, e) < 0)
		return -1;
	avail = in->end - in->start;
	if (n > avail)
		n = avail;
	if (n)
		memcpy(dst, in->buf + in->start, n);
	in->start += n;
	return (long)n;
}

/* ---- loading --------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int tdc_load_input(tdc_input *in, tdc_dump **out, tdc_err *e)
{
	const char *p;
	long n = tdc_input_peek(in, 4096, &p, e);
	long i = 0;

	*out = NULL;
	if (n < 0)
		return -1;
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		in->start += 3; /* a UTF-8 byte order mark */
		p += 3;
		n -= 3;
	}
	while (i < n && is_space(p[i]))
		i++;
	if (i == n && n < 4096) {
		tdc_seterr(e, "%s: empty file", in->name);
		return -1;
	}
	if ((n >= 8 && memcmp(p, "taskdump", 8) == 0) ||
	    (i < n && p[i] == '{')) {
		int rc;

		/* The model of a big dump may not fit: say which file. */
		tdc_oom_reading(in->name);
		rc = p[i] == '{' ? tdc_parse_json(in, out, e) :
				   tdc_parse_text(in, out, e);
		tdc_oom_reading(NULL);
		return rc;
	}
	if (memchr(p, '\0', (size_t)n))
		tdc_seterr(e, "%s: not a taskdump dump (binary data)",
			   in->name);
	else
		tdc_seterr(e, "%s: not a taskdump dump (a text dump starts "
			   "with \"taskdump 1\", a JSON dump with \"{\")",
			   in->name);
	return -1;
}

int tdc_load_file(const char *path, tdc_dump **out, tdc_err *e)
{
	tdc_input in;
	int rc;

	*out = NULL;
	if (tdc_input_open(&in, path, e) < 0)
		return -1;
	rc = tdc_load_input(&in, out, e);
	tdc_input_close(&in);
	return rc;
}

int tdc_load_mem(const char *name, const char *data, size_t len,
		 tdc_dump **out, tdc_err *e)
{
	tdc_input in;
	int rc;

	tdc_input_mem(&in, name, data, len);
	rc = tdc_load_input(&in, out, e);
	tdc_input_close(&in);
	return rc;
}
