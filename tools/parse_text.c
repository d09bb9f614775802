/* parse_text.c - the text dump parser (README.md (dump file formats), "Text format").
 *
 * One pass over the lines, no look-ahead, memory proportional to what is
 * kept.  Each line is classified by its first bytes; the parser remembers
 * only the current runtime, the current entry (the task lines since the
 * last blank line, which all share the tree that follows: grouping) and
 * the tree nodes of that entry, which become one trace per leaf when the
 * entry ends.  Every error names the file and line. */
#include "parse_text.h"
#include "textfmt.h"

#include <stdlib.h>
#include <string.h>

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- header ---------------------------------------------------------- */

static int deadlock_line(parser *p, char *val);
static int task_warnings_line(parser *p, const char *val, size_t len);
static int task_warning_line(parser *p, char *val);
static int unconfirmed_line(parser *p, const char *val, size_t len);

static int header_line(parser *p, char *line, size_t len)
{
	char *sp = memchr(line, ' ', len);
	size_t klen = sp ? (size_t)(sp - line) : len;
	const char *val = sp ? sp + 1 : "";
	size_t vlen = len - klen - (sp ? 1 : 0);
	tdc_dump *d = p->d;
	tdc_f64 *f = NULL;
	tdc_u64 *u = NULL;

	for (size_t i = 0; i < klen; i++) {
		char c = line[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return pt_fail(p, "expected a header line \"key "
				       "value\" or a blank line");
	}
	if (klen == 0)
		return pt_fail(p, "expected a header line \"key value\"");
	line[klen] = '\0';
	if (strcmp(line, "program") == 0)
		d->program = tdc_arena_clean(&d->arena, val, vlen, true);
	else if (strcmp(line, "time") == 0)
		d->time = tdc_arena_clean(&d->arena, val, vlen, true);
	else if (strcmp(line, "note") == 0)
		d->note = tdc_arena_clean(&d->arena, val, vlen, true);
	else if (strcmp(line, "warning") == 0) {
		d->warnings = tdc_arena_grow(&d->arena, d->warnings,
					     d->nwarnings, d->nwarnings + 1,
					     sizeof(*d->warnings));
		d->warnings[d->nwarnings++] =
			tdc_arena_clean(&d->arena, val, vlen, true);
	}
	else if (strcmp(line, "deadlock") == 0)
		return deadlock_line(p, sp ? sp + 1 : line + klen);
	else if (strcmp(line, "task_warnings") == 0)
		return task_warnings_line(p, val, vlen);
	else if (strcmp(line, "task_warning") == 0)
		return task_warning_line(p, sp ? sp + 1 : line + klen);
	else if (strcmp(line, "pid") == 0)
		u = &d->pid;
	else if (strcmp(line, "runtimes") == 0)
		u = &p->want_runtimes;
	else if (strcmp(line, "tasks") == 0)
		u = &p->want_tasks;
	else if (strcmp(line, "pause_ms") == 0)
		f = &d->pause_ms;
	else if (strcmp(line, "span_ms") == 0)
		f = &d->span_ms;
	else if (strcmp(line, "mode") == 0)
		d->mode = tdc_arena_clean(&d->arena, val, vlen, true);
	else if (strcmp(line, "unconfirmed") == 0)
		return unconfirmed_line(p, val, vlen);
	else if (strcmp(line, "capture_ms") == 0)
		f = &d->capture_ms;
	else if (strcmp(line, "symbolize_ms") == 0)
		f = &d->symbolize_ms;
	else if (strcmp(line, "total_ms") == 0)
		f = &d->total_ms;
	/* Unknown keys are ignored: later versions may add some. */
	if (u) {
		uint64_t v;

		if (!(u->set = tdc_parse_u64(val, vlen, &v)))
			return pt_fail(p, "%s: expected a non-negative "
				       "integer", line);
		u->v = v;
	}
	if (f && !(f->set = tdc_parse_double(val, vlen, &f->v)))
		return pt_fail(p, "%s: expected a number", line);
	return 0;
}

static int version_line(parser *p, const char *line, size_t len)
{
	uint64_t v;

	if (len == 10 && strcmp(line, "taskdump 1") == 0) {
		p->d->version = 1;
		return 0;
	}
	if (len > 9 && starts(line, "taskdump ") &&
	    tdc_parse_u64(line + 9, len - 9, &v)) {
		tdc_seterr(p->e, "%s: unsupported dump format version %llu "
			   "(this taskdump reads version 1)", p->in->name,
			   (unsigned long long)v);
		return -1;
	}
	tdc_seterr(p->e, "%s: not a taskdump dump (the first line must be "
		   "\"taskdump 1\")", p->in->name);
	return -1;
}
/* ---- key=value lines ------------------------------------------------- */

typedef struct kv {
	const char *key;
	size_t klen;
	const char *val;           /* cleaned, NUL-terminated */
	size_t vlen;
} kv;

/* Undo the escapes (\" \\ \n \t \xHH) of s[0..n) into out->val, cleaned
 * (quoted values may hold control characters, bare ones may not). */
static int unescape(parser *p, const char *s, size_t n, bool bare, kv *out)
{
	tdc_intern *seen = &p->values[!bare];
	char *buf, *o;
	uint64_t v;

	/* Values repeat (states, spawn sites, names): one copy each. */
	if ((out->val = tdc_intern_get(seen, s, n))) {
		out->vlen = strlen(out->val);
		return 0;
	}
	buf = o = tdc_xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (++i == n)
			goto bad;
		switch (s[i]) {
		case '"': case '\\':
			*o++ = s[i];
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'x': {
			char hex[4] = {'0', 'x', 0, 0};

			if (n - i < 3)
				goto bad;
			memcpy(hex + 2, s + i + 1, 2);
			if (!tdc_parse_hex(hex, 4, &v))
				goto bad;
			*o++ = (char)v;
			i += 2;
			break;
		}
		default:
			goto bad;
		}
	}
	out->val = tdc_arena_clean(&p->d->arena, buf, (size_t)(o - buf), bare);
	out->vlen = strlen(out->val);
	if (n <= 256 && !(n > 0 && s[0] >= '0' && s[0] <= '9'))
		tdc_intern_put(seen, tdc_arena_strndup(&p->d->arena, s, n), n,
			       (void *)out->val);
	free(buf);
	return 0;
bad:
	free(buf);
	return pt_fail(p, "bad escape sequence in the value of \"%s\"",
		       tdc_arena_strndup(&p->d->arena, out->key, out->klen));
}

/* The next " key=value" of *s; returns 1, 0 at the end, -1 on error. */
static int next_kv(parser *p, char **s, kv *out)
{
	char *q = *s, *eq, *end;

	if (*q == '\0')
		return 0;
	if (*q != ' ')
		return pt_fail(p, "expected a space before \"%.40s\"", q);
	q++;
	out->key = q;
	eq = q;
	while (*eq && *eq != '=' && *eq != ' ')
		eq++;
	if (*eq != '=' || eq == q)
		return pt_fail(p, "expected key=value at \"%.40s\"", q);
	out->klen = (size_t)(eq - q);
	if (eq[1] == '"') {
		/* The closing quote is the first one not escaped. */
		for (end = eq + 2; *end && *end != '"'; end++)
			if (*end == '\\' && end[1])
				end++;
		if (*end != '"')
			return pt_fail(p, "unterminated quoted string");
		*s = end + 1;
		return unescape(p, eq + 2, (size_t)(end - eq - 2), false,
				out) < 0 ? -1 : 1;
	}
	for (end = eq + 1; *end && *end != ' '; end++)
		;
	*s = end;
	return unescape(p, eq + 1, (size_t)(end - eq - 1), true, out) < 0 ?
	       -1 : 1;
}

static bool key_is(const kv *k, const char *name)
{
	return k->klen == strlen(name) && memcmp(k->key, name, k->klen) == 0;
}

static int kv_u64(parser *p, const kv *k, tdc_u64 *out)
{
	uint64_t v;

	out->set = tdc_parse_u64(k->val, k->vlen, &v);
	out->v = v;
	if (!out->set)
		return pt_fail(p, "%.*s: expected a non-negative integer",
			       (int)k->klen, k->key);
	return 0;
}

/* "<word> <id>" at the start of a line: returns the rest, or NULL. */
static char *line_id(parser *p, char *line, size_t skip, uint64_t *id)
{
	char *s = line + skip, *end = s;

	while (*end && *end != ' ')
		end++;
	if (!tdc_parse_u64(s, (size_t)(end - s), id)) {
		pt_fail(p, "expected a number after \"%s\"",
			tdc_arena_strndup(&p->d->arena, line, skip - 1));
		return NULL;
	}
	return end;
}

static int kv_edges(parser *p, const kv *k, tdc_edge **out, size_t *n)
{
	if (tdc_edges_parse(&p->d->arena, k->val, out, n) < 0)
		return pt_fail(p, "waits_for: expected \"task <id>: <why>\" "
			       "or \"nobody: <why>\" entries");
	return 0;
}

static int kv_holds(parser *p, const kv *k, tdc_held **out, size_t *n)
{
	if (tdc_helds_parse(&p->d->arena, k->val, out, n) < 0)
		return pt_fail(p, "holds: expected \"<kind> <object> held <n> "
			       "ms, <n> waiting\" entries");
	return 0;
}

/* "deadlock <k> task=<id> [name=...] [holds=...] waits_for=...": one
 * member of deadlock k (numbered from 1, members in cycle order). */
static int deadlock_line(parser *p, char *val)
{
	tdc_dump *d = p->d;
	char *s = val;
	uint64_t k;
	tdc_u64 task = {0};
	tdc_dl_member m = {0};
	size_t nw = 0;
	tdc_edge *w = NULL;
	kv kk;
	int r;

	while (*s && *s != ' ')
		s++;
	if (!tdc_parse_u64(val, (size_t)(s - val), &k) || k == 0 ||
	    k > d->ndeadlocks + 1 || k + 1 < d->ndeadlocks + 1)
		return pt_fail(p, "deadlock: expected the deadlock's number "
			       "(from 1, in order)");
	while ((r = next_kv(p, &s, &kk)) > 0) {
		if (key_is(&kk, "task"))
			r = kv_u64(p, &kk, &task);
		else if (key_is(&kk, "name"))
			m.name = kk.val;
		else if (key_is(&kk, "holds"))
			r = kv_holds(p, &kk, &m.holds, &m.nholds);
		else if (key_is(&kk, "waits_for"))
			r = kv_edges(p, &kk, &w, &nw);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!task.set || nw != 1)
		return pt_fail(p, "deadlock: expected task= and one "
			       "waits_for= entry");
	m.task = task.v;
	m.waits_for = w[0];
	if (k > d->ndeadlocks) {
		d->deadlocks = tdc_arena_grow(&d->arena, d->deadlocks,
					      d->ndeadlocks, d->ndeadlocks + 1,
					      sizeof(*d->deadlocks));
		d->deadlocks[d->ndeadlocks++] = (tdc_deadlock){0};
	}
	tdc_deadlock *dl = &d->deadlocks[d->ndeadlocks - 1];
	dl->members = tdc_arena_grow(&d->arena, dl->members, dl->nmembers,
				     dl->nmembers + 1, sizeof(*dl->members));
	dl->members[dl->nmembers++] = m;
	return 0;
}

/* "unconfirmed deadlocks=<n> lost_wakeups=<m>" */
static int unconfirmed_line(parser *p, const char *val, size_t len)
{
	static const char k1[] = "deadlocks=", k2[] = " lost_wakeups=";
	const char *sp;
	uint64_t a, b;

	if (len < sizeof(k1) - 1 || memcmp(val, k1, sizeof(k1) - 1) != 0 ||
	    !(sp = memchr(val, ' ', len)) ||
	    (size_t)(val + len - sp) < sizeof(k2) - 1 ||
	    memcmp(sp, k2, sizeof(k2) - 1) != 0 ||
	    !tdc_parse_u64(val + sizeof(k1) - 1,
			   (size_t)(sp - val) - (sizeof(k1) - 1), &a) ||
	    !tdc_parse_u64(sp + sizeof(k2) - 1,
			   (size_t)(val + len - sp) - (sizeof(k2) - 1), &b))
		return pt_fail(p, "unconfirmed: expected \"deadlocks=<n> "
			       "lost_wakeups=<n>\"");
	p->d->unconfirmed_deadlocks = (tdc_u64){a, true};
	p->d->unconfirmed_lost_wakeups = (tdc_u64){b, true};
	return 0;
}

/* "task_warnings <found>[ listed=<n>]" */
static int task_warnings_line(parser *p, const char *val, size_t len)
{
	const char *sp = memchr(val, ' ', len);
	size_t n = sp ? (size_t)(sp - val) : len;
	uint64_t found;

	if (!tdc_parse_u64(val, n, &found))
		return pt_fail(p, "task_warnings: expected a count");
	p->d->task_warnings_found = found;
	return 0;
}

/* "task_warning <severity> <kind> runtime=<id> task=<id> [name=...]
 * evidence=...": one warning (README.md, "Task warnings"). */
static int task_warning_line(parser *p, char *val)
{
	tdc_dump *d = p->d;
	tdc_task_warning w = {0};
	tdc_u64 rt = {0}, task = {0};
	char *s = val, *word[2];
	size_t wlen[2];
	kv k;
	int r;

	/* Two words, then " key=value" pairs from the space after them. */
	for (int i = 0; i < 2; i++) {
		if (i && *s == ' ')
			s++;
		word[i] = s;
		while (*s && *s != ' ')
			s++;
		wlen[i] = (size_t)(s - word[i]);
		if (!wlen[i])
			return pt_fail(p, "task_warning: expected a severity "
				       "and a kind");
	}
	w.severity = tdc_arena_clean(&d->arena, word[0], wlen[0], true);
	w.kind = tdc_arena_clean(&d->arena, word[1], wlen[1], true);
	while ((r = next_kv(p, &s, &k)) > 0) {
		if (key_is(&k, "runtime"))
			r = kv_u64(p, &k, &rt);
		else if (key_is(&k, "task"))
			r = kv_u64(p, &k, &task);
		else if (key_is(&k, "name"))
			w.name = k.val;
		else if (key_is(&k, "evidence"))
			w.evidence = k.val;
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!rt.set || !task.set || !w.evidence)
		return pt_fail(p, "task_warning: expected runtime=, task= and "
			       "evidence=");
	w.runtime = rt.v;
	w.task = task.v;
	d->task_warnings = tdc_arena_grow(&d->arena, d->task_warnings,
					  d->ntask_warnings,
					  d->ntask_warnings + 1,
					  sizeof(*d->task_warnings));
	d->task_warnings[d->ntask_warnings++] = w;
	if (d->task_warnings_found < d->ntask_warnings)
		d->task_warnings_found = d->ntask_warnings;
	return 0;
}

/* The current runtime's block ends: its task array, grown on the heap,
 * is cut to size and handed to the arena (once, not once per size it had
 * on the way, as arena copies would be). */
static void adopt_tasks(parser *p)
{
	tdc_runtime *rt = p->rt;

	if (!rt || !p->cap_tasks)
		return;
	if (rt->ntasks)
		rt->tasks = tdc_xrealloc(rt->tasks,
					 rt->ntasks * sizeof(*rt->tasks));
	tdc_arena_adopt(&p->d->arena, rt->tasks);
	if (!rt->ntasks)
		rt->tasks = NULL;
	p->cap_tasks = 0;
}

static int runtime_line(parser *p, char *line)
{
	tdc_dump *d = p->d;
	tdc_runtime *rt;
	uint64_t id;
	char *s = line_id(p, line, 8, &id);
	kv k;
	int r;

	if (!s)
		return -1;
	adopt_tasks(p);
	if (d->nruntimes == p->cap_runtimes) {
		size_t nc = p->cap_runtimes ? 2 * p->cap_runtimes : 2;

		d->runtimes = tdc_arena_grow(&d->arena, d->runtimes,
					     d->nruntimes, nc, sizeof(*rt));
		p->cap_runtimes = nc;
	}
	rt = p->rt = &d->runtimes[d->nruntimes++];
	p->cap_workers = p->cap_tasks = 0;
	rt->id = id;
	while ((r = next_kv(p, &s, &k)) > 0) {
		if (key_is(&k, "name"))
			rt->name = k.val;
		else if (key_is(&k, "flavor"))
			rt->flavor = k.val;
		else if (key_is(&k, "error"))
			rt->error = k.val;
		else if (key_is(&k, "workers"))
			r = kv_u64(p, &k, &rt->workers_declared);
		else if (key_is(&k, "tasks"))
			r = kv_u64(p, &k, &rt->tasks_total);
		else if (key_is(&k, "traced"))
			r = kv_u64(p, &k, &rt->traced);
		else if (key_is(&k, "pause_ms") &&
			 !(rt->pause_ms.set = tdc_parse_double(
				   k.val, k.vlen, &rt->pause_ms.v)))
			r = pt_fail(p, "pause_ms: expected a number");
		if (r < 0)
			return -1;
	}
	return r;
}

static int worker_line(parser *p, char *line)
{
	tdc_runtime *rt = p->rt;
	tdc_worker *w;
	uint64_t index;
	char *s;
	kv k;
	int r;

	if (!rt)
		return pt_fail(p, "worker line outside a runtime block");
	if (!(s = line_id(p, line, 7, &index)))
		return -1;
	if (rt->nworkers == p->cap_workers) {
		size_t nc = p->cap_workers ? 2 * p->cap_workers : 4;

		rt->workers = tdc_arena_grow(&p->d->arena, rt->workers,
					     rt->nworkers, nc, sizeof(*w));
		p->cap_workers = nc;
	}
	w = &rt->workers[rt->nworkers++];
	w->index = index;
	w->state = "unknown";
	while ((r = next_kv(p, &s, &k)) > 0) {
		if (key_is(&k, "state"))
			w->state = k.val;
		else if (key_is(&k, "tid"))
			r = kv_u64(p, &k, &w->tid);
		else if (key_is(&k, "queued"))
			r = kv_u64(p, &k, &w->queued);
		else if (key_is(&k, "task"))
			r = kv_u64(p, &k, &w->task);
		else if (key_is(&k, "busy_ms"))
			r = kv_u64(p, &k, &w->busy_ms);
		else if (key_is(&k, "held_ms") &&
			 !(w->held_ms.set = tdc_parse_double(
				   k.val, k.vlen, &w->held_ms.v)))
			r = pt_fail(p, "held_ms: expected a number");
		else if (key_is(&k, "syscall"))
			w->syscall = k.val;
		else if (key_is(&k, "syscall_fd"))
			r = kv_u64(p, &k, &w->syscall_fd);
		else if (key_is(&k, "syscall_fd_target"))
			w->syscall_fd_target = k.val;
		else if (key_is(&k, "syscall_timeout_ms"))
			r = kv_u64(p, &k, &w->syscall_timeout_ms);
		else if (key_is(&k, "stack_note"))
			w->stack_note = k.val;
		if (r < 0)
			return -1;
	}
	return r;
}

/* "  native stack of worker N:" or "... N unavailable: <reason>". */
static int native_header(parser *p, char *line, size_t len)
{
	char *s = line + 25, *end = s;
	uint64_t index;

	p->native = NULL;
	if (!p->rt)
		return pt_fail(p, "native stack outside a runtime block");
	while (*end >= '0' && *end <= '9')
		end++;
	if (!tdc_parse_u64(s, (size_t)(end - s), &index))
		return pt_fail(p, "expected a worker number");
	/* The stack follows its worker's line: the latest with that index. */
	for (size_t i = p->rt->nworkers; i-- > 0 && !p->native; )
		if (p->rt->workers[i].index == index)
			p->native = &p->rt->workers[i];
	if (!p->native)
		return pt_fail(p, "native stack of an unknown worker");
	if (strcmp(end, ":") == 0) {
		/* A repeated header replaces the stack. */
		p->native->stack = NULL;
		p->native->nstack = 0;
		p->cap_native = 0;
		return 0;
	}
	if (!starts(end, " unavailable: "))
		return pt_fail(p, "expected \":\" or \" unavailable: "
			       "<reason>\"");
	p->native->stack_error = tdc_arena_clean(
		&p->d->arena, end + 14, len - (size_t)(end + 14 - line), true);
	p->native = NULL;
	return 0;
}

static int native_frame(parser *p, char *line, size_t len)
{
	tdc_worker *w = p->native;
	const tdc_frame *f;
	const char *wait;
	size_t off = 2, wlen;

	/* Skip the tree drawing, if any: the stack is a plain list. */
	while (off < len && (line[off] == ' ' || (len - off >= 3 &&
	       (memcmp(line + off, TDC_ROOT, 3) == 0 ||
		memcmp(line + off, TDC_TEE, 3) == 0 ||
		memcmp(line + off, TDC_ELBOW, 3) == 0 ||
		memcmp(line + off, TDC_VBAR, 3) == 0))))
		off += line[off] == ' ' ? 1 : 3;
	if (tdc_pt_frame(p, line + off, len - off, &f, &wait, &wlen) < 0)
		return -1;
	if (!f)
		return 0; /* a cut stack: nothing more to keep */
	if (w->nstack >= TDC_MAX_FRAMES)
		return pt_fail(p, "native stack deeper than %d frames",
			       TDC_MAX_FRAMES);
	if (w->nstack == p->cap_native) {
		size_t nc = p->cap_native ? 2 * p->cap_native : 16;

		w->stack = tdc_arena_grow(&p->d->arena, w->stack, w->nstack,
					  nc, sizeof(*w->stack));
		p->cap_native = nc;
	}
	w->stack[w->nstack++] = f;
	return 0;
}

static int task_spawned(parser *p, tdc_task *t, const kv *k)
{
	const char *colon = strrchr(k->val, ':');

	if (colon && tdc_parse_u64(colon + 1, strlen(colon + 1),
				   &t->spawn_line)) {
		size_t n = (size_t)(colon - k->val);

		/* Spawn sites repeat: one copy of each file name. */
		if (!(t->spawn_file = tdc_intern_get(&p->spawn_files, k->val,
						     n))) {
			char *s = tdc_arena_strndup(&p->d->arena, k->val, n);

			tdc_intern_put(&p->spawn_files, s, n, s);
			t->spawn_file = s;
		}
	} else {
		t->spawn_file = k->val;
		t->spawn_line = 0;
	}
	return 0;
}

/* A counter of a task line (README.md, "Task counters"): true when `k`
 * is one, with *r the result of reading it. */
static bool task_counter(parser *p, tdc_task *t, const kv *k, int *r)
{
	tdc_u64 *c = tdc_task_counter(t, k->key, k->klen, NULL);

	if (c)
		*r = kv_u64(p, k, c);
	return c != NULL;
}

static int task_line(parser *p, char *line)
{
	tdc_runtime *rt = p->rt;
	tdc_task *t;
	uint64_t id;
	char *s;
	kv k;
	int r;

	if (!rt)
		return pt_fail(p, "task line outside a runtime block");
	if (p->entry_done)
		tdc_pt_finish_entry(p); /* lenient: a missing blank line */
	if (!(s = line_id(p, line, 5, &id)))
		return -1;
	/* On the heap until the runtime's block ends (adopt_tasks). */
	rt->tasks = tdc_grow(rt->tasks, &p->cap_tasks, rt->ntasks + 1,
			     sizeof(*t));
	memset(&rt->tasks[rt->ntasks], 0, sizeof(*t));
	if (p->entry_n == 0)
		p->entry_first = rt->ntasks;
	p->entry_n++;
	t = &rt->tasks[rt->ntasks++];
	t->id = id;
	t->state = "unknown";
	t->traced = true;
	while ((r = next_kv(p, &s, &k)) > 0) {
		if (key_is(&k, "name"))
			t->name = k.val;
		else if (key_is(&k, "type"))
			t->type = k.val;
		else if (key_is(&k, "block_on"))
			t->block_on = strcmp(k.val, "0") != 0;
		else if (key_is(&k, "state"))
			t->state = k.val;
		else if (key_is(&k, "queue"))
			t->queue = k.val;
		else if (key_is(&k, "queue_worker"))
			r = kv_u64(p, &k, &t->queue_worker);
		else if (key_is(&k, "polls"))
			r = kv_u64(p, &k, &t->polls);
		else if (key_is(&k, "idle_ms"))
			r = kv_u64(p, &k, &t->idle_ms);
		else if (key_is(&k, "worker"))
			r = kv_u64(p, &k, &t->worker);
		else if (key_is(&k, "spawned"))
			r = task_spawned(p, t, &k);
		else if (key_is(&k, "in"))
			t->spawn_function = k.val;
		else if (key_is(&k, "waits_for"))
			r = kv_edges(p, &k, &t->waits_for, &t->nwaits_for);
		else if (key_is(&k, "holds"))
			r = kv_holds(p, &k, &t->holds, &t->nholds);
		else if (!task_counter(p, t, &k, &r))
			continue; /* unknown keys: later versions may add some */
		if (r < 0)
			return -1;
	}
	return r;
}

static int not_traced_line(parser *p, char *line, size_t len)
{
	const char *why;

	if (p->entry_n == 0 || p->entry_done)
		return pt_fail(p, "\"not traced\" line without a task line");
	why = tdc_arena_clean(&p->d->arena, line + 12, len - 12, true);
	for (size_t i = 0; i < p->entry_n; i++) {
		tdc_task *t = &p->rt->tasks[p->entry_first + i];

		t->traced = false;
		t->not_traced = why;
	}
	p->entry_done = true;
	return 0;
}

/* ---- the file -------------------------------------------------------- */

static int body_line(parser *p, char *line, size_t len)
{
	if (starts(line, "runtime ")) {
		tdc_pt_finish_entry(p);
		p->native = NULL;
		return runtime_line(p, line);
	}
	if (starts(line, "worker ")) {
		tdc_pt_finish_entry(p);
		p->native = NULL;
		return worker_line(p, line);
	}
	/* Inside a stack every indented line is a frame (a function may be
	 * called anything); a stack's header follows its worker's line. */
	if (p->native && starts(line, "  "))
		return native_frame(p, line, len);
	if (starts(line, "  native stack of worker "))
		return native_header(p, line, len);
	p->native = NULL;
	if (starts(line, "task "))
		return task_line(p, line);
	if (starts(line, "not traced: "))
		return not_traced_line(p, line, len);
	if (p->entry_n > 0 && !(p->entry_done && p->nnodes == 0))
		return tdc_pt_tree_node(p, line, len);
	return pt_fail(p, "unexpected line \"%.60s\"", line);
}

static int check_counts(parser *p)
{
	tdc_dump *d = p->d;
	size_t ntasks = tdc_dump_ntasks(d);

	if (p->want_runtimes.set && p->want_runtimes.v != d->nruntimes) {
		tdc_seterr(p->e, "%s: the header says %llu runtimes but the "
			   "file has %zu (truncated?)", p->in->name,
			   (unsigned long long)p->want_runtimes.v,
			   d->nruntimes);
		return -1;
	}
	if (p->want_tasks.set && p->want_tasks.v != ntasks) {
		tdc_seterr(p->e, "%s: the header says %llu tasks but the "
			   "file has %zu (truncated?)", p->in->name,
			   (unsigned long long)p->want_tasks.v, ntasks);
		return -1;
	}
	return 0;
}

int tdc_parse_text(tdc_input *in, tdc_dump **out, tdc_err *e)
{
	parser p = {.in = in, .e = e, .child_offset = -1};
	bool header = true, blank = false;
	char *line;
	size_t len;
	int r;

	p.d = tdc_dump_new(in->name, "text");
	if ((r = tdc_input_line(in, &line, &len, e)) <= 0) {
		if (r == 0)
			tdc_seterr(e, "%s: empty file", in->name);
		goto out;
	}
	if ((r = version_line(&p, line, len)) < 0)
		goto out;
	while ((r = tdc_input_line(in, &line, &len, e)) > 0) {
		blank = len == 0;
		if (len == 0) {
			tdc_pt_finish_entry(&p);
			p.native = NULL;
			header = false;
			continue;
		}
		if (header && (starts(line, "runtime ") ||
			       starts(line, "task ")))
			header = false; /* lenient: no blank line */
		r = header ? header_line(&p, line, len) :
			     body_line(&p, line, len);
		if (r < 0)
			goto out;
	}
	if (r == 0 && !blank) {
		/* Every runtime block - and the header when there is none -
		 * ends in a blank line: a file cut at a line end in the last
		 * entry (its tree half there, the counts still right) is
		 * not a dump, and its last trace must not be invented. */
		tdc_seterr(e, "%s: truncated: the file does not end with the "
			   "blank line that closes its last block", in->name);
		r = -1;
	}
	if (r == 0) {
		tdc_pt_finish_entry(&p);
		r = check_counts(&p);
	}
out:
	adopt_tasks(&p);
	free(p.nodes);
	free(p.scratch);
	free(p.tscratch);
	tdc_intern_free(&p.spawn_files);
	tdc_intern_free(&p.frame_lists);
	tdc_intern_free(&p.waits);
	tdc_intern_free(&p.trace_lists);
	free(p.stack);
	tdc_intern_free(&p.frames);
	tdc_intern_free(&p.values[0]);
	tdc_intern_free(&p.values[1]);
	if (r < 0) {
		tdc_dump_free(p.d);
		return -1;
	}
	*out = p.d;
	return 0;
}
