/* filter.c - task selection (see filter.h). */
#include "filter.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_states[] = {
	"idle", "notified", "running", "cancelled", "complete",
};

int tdc_filter_task(tdc_filter *f, const char *id, tdc_err *e)
{
	uint64_t v;

	if (!tdc_parse_u64(id, strlen(id), &v)) {
		tdc_seterr(e, "--task needs a task id (a number), not '%s'",
			   id);
		return -1;
	}
	f->ids = tdc_grow(f->ids, &f->cap_ids, f->nids + 1, sizeof(*f->ids));
	f->ids[f->nids++] = v;
	return 0;
}

int tdc_filter_name(tdc_filter *f, const char *glob, tdc_err *e)
{
	(void)e;
	f->names = tdc_grow(f->names, &f->cap_names, f->nnames + 1,
			    sizeof(*f->names));
	f->names[f->nnames++] = glob;
	return 0;
}

int tdc_filter_state(tdc_filter *f, const char *state, tdc_err *e)
{
	size_t i, n = sizeof(known_states) / sizeof(known_states[0]);

	for (i = 0; i < n; i++)
		if (strcmp(state, known_states[i]) == 0)
			break;
	if (i == n) {
		tdc_seterr(e, "--state must be idle, notified, running, "
			   "cancelled or complete, not '%s'", state);
		return -1;
	}
	f->states = tdc_grow(f->states, &f->cap_states, f->nstates + 1,
			     sizeof(*f->states));
	f->states[f->nstates++] = known_states[i];
	return 0;
}

int tdc_filter_grep(tdc_filter *f, const char *regex, tdc_err *e)
{
	int rc;

	f->greps = tdc_grow(f->greps, &f->cap_greps, f->ngreps + 1,
			    sizeof(*f->greps));
	rc = regcomp(&f->greps[f->ngreps], regex, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[200];

		regerror(rc, &f->greps[f->ngreps], msg, sizeof(msg));
		tdc_seterr(e, "--grep '%s': %s", regex, msg);
		return -1;
	}
	f->ngreps++;
	return 0;
}

int tdc_filter_min_idle(tdc_filter *f, const char *duration, tdc_err *e)
{
	if (!tdc_parse_duration(duration, &f->min_idle_ms)) {
		tdc_seterr(e, "--min-idle needs a duration like 500ms, 2s, "
			   "1.5m or 1h, not '%s'", duration);
		return -1;
	}
	f->has_min_idle = true;
	return 0;
}

static const char *const warning_words[] = {
	"lost-wakeup", "busy-loop", "long-poll", "starved", "never-polled",
	"long-wait", "error", "warning", "info",
};

int tdc_filter_warnings(tdc_filter *f, const char *what, tdc_err *e)
{
	f->warned = true;
	if (!what)
		return 0;
	for (size_t i = 0; i < sizeof(warning_words) / sizeof(*warning_words);
	     i++)
		if (strcmp(what, warning_words[i]) == 0) {
			f->warning = warning_words[i];
			return 0;
		}
	tdc_seterr(e, "--warnings: expected a kind (lost-wakeup, busy-loop, "
		    "long-poll, starved, never-polled, long-wait) or a "
		    "severity (error, warning, info), not '%s'", what);
	return -1;
}

bool tdc_filter_active(const tdc_filter *f)
{
	return f->nids || f->nnames || f->nstates || f->ngreps ||
	       f->has_min_idle || f->deadlocks || f->warned;
}

static bool grep_task(const regex_t *re, const tdc_task *t)
{
	for (size_t i = 0; i < t->ntraces; i++)
		for (size_t k = 0; k < t->traces[i].nframes; k++)
			if (regexec(re, t->traces[i].frames[k]->function, 0,
				    NULL, 0) == 0)
				return true;
	return false;
}

bool tdc_filter_match(const tdc_filter *f, const tdc_task *t)
{
	bool ok;
	size_t i;

	for (ok = !f->nids, i = 0; !ok && i < f->nids; i++)
		ok = f->ids[i] == t->id;
	if (!ok)
		return false;
	for (ok = !f->nnames, i = 0; !ok && i < f->nnames; i++)
		ok = t->name && fnmatch(f->names[i], t->name, 0) == 0;
	if (!ok)
		return false;
	for (ok = !f->nstates, i = 0; !ok && i < f->nstates; i++)
		ok = strcmp(f->states[i], t->state) == 0;
	if (!ok)
		return false;
	for (ok = !f->ngreps, i = 0; !ok && i < f->ngreps; i++)
		ok = grep_task(&f->greps[i], t);
	if (!ok)
		return false;
	return !f->has_min_idle ||
	       (t->idle_ms.set && (double)t->idle_ms.v >= f->min_idle_ms);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The ids of every deadlock's members, sorted (for bsearch: a ring of
 * 100 000 tasks is one deadlock of 100 000 members, and every task is
 * looked up in it). */
static uint64_t *deadlock_ids(const tdc_dump *d, size_t *n)
{
	uint64_t *ids;

	*n = 0;
	for (size_t k = 0; k < d->ndeadlocks; k++)
		*n += d->deadlocks[k].nmembers;
	ids = tdc_xmalloc((*n + 1) * sizeof(*ids));
	*n = 0;
	for (size_t k = 0; k < d->ndeadlocks; k++)
		for (size_t i = 0; i < d->deadlocks[k].nmembers; i++)
			ids[(*n)++] = d->deadlocks[k].members[i].task;
	qsort(ids, *n, sizeof(*ids), cmp_u64);
	return ids;
}

void tdc_filter_apply(const tdc_filter *f, tdc_dump *d)
{
	tdc_warning_index warned = {0};
	size_t nids = 0;
	uint64_t *ids = NULL;

	if (!tdc_filter_active(f))
		return;
	if (f->warned)
		tdc_warning_index_init(&warned, d, f->warning);
	if (f->deadlocks)
		ids = deadlock_ids(d, &nids);
	for (size_t r = 0; r < d->nruntimes; r++) {
		tdc_runtime *rt = &d->runtimes[r];
		size_t k = 0;

		for (size_t i = 0; i < rt->ntasks; i++) {
			const tdc_task *t = &rt->tasks[i];

			if (!tdc_filter_match(f, t))
				continue;
			if (f->deadlocks &&
			    (t->block_on || !bsearch(&t->id, ids, nids,
						     sizeof(*ids), cmp_u64)))
				continue;
			if (f->warned &&
			    (t->block_on ||
			     !tdc_warning_find(&warned, rt->id, t->id, NULL)))
				continue;
			rt->tasks[k++] = rt->tasks[i];
		}
		rt->ntasks = k;
	}
	tdc_warning_index_free(&warned);
	free(ids);
}

void tdc_filter_free(tdc_filter *f)
{
	for (size_t i = 0; i < f->ngreps; i++)
		regfree(&f->greps[i]);
	free(f->greps);
	free(f->ids);
	free(f->names);
	free(f->states);
	memset(f, 0, sizeof(*f));
}
