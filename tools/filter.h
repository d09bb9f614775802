/* filter.h - selecting tasks for `taskdump show` (and its --summary).
 *
 * Different options combine with AND; repeated uses of one option (two
 * --task, two --state, ...) combine with OR. */
#ifndef TDC_FILTER_H
#define TDC_FILTER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct tdc_filter {
	uint64_t *ids;
	size_t nids, cap_ids;
	const char **names;    /* fnmatch globs on the task name */
	size_t nnames, cap_names;
	const char **states;
	size_t nstates, cap_states;
	regex_t *greps;        /* POSIX extended, on frame functions */
	size_t ngreps, cap_greps;
	bool has_min_idle;
	double min_idle_ms;
	bool deadlocks;        /* only members of a deadlock */
	bool warned;           /* only tasks with a task warning ... */
	const char *warning;   /* ... of this kind or severity (NULL: any) */
} tdc_filter;

/* Add a criterion.  Return 0, or -1 with a message in *e (bad value). */
int tdc_filter_task(tdc_filter *f, const char *id, tdc_err *e);
int tdc_filter_name(tdc_filter *f, const char *glob, tdc_err *e);
int tdc_filter_state(tdc_filter *f, const char *state, tdc_err *e);
int tdc_filter_grep(tdc_filter *f, const char *regex, tdc_err *e);
int tdc_filter_min_idle(tdc_filter *f, const char *duration, tdc_err *e);
/* Only tasks the header's task warnings name; `what` (NULL: any) is a
 * kind (lost-wakeup, busy-loop, ...) or a severity (error, warning,
 * info). */
int tdc_filter_warnings(tdc_filter *f, const char *what, tdc_err *e);

bool tdc_filter_active(const tdc_filter *f);
bool tdc_filter_match(const tdc_filter *f, const tdc_task *t);

/* Keep only the matching tasks of every runtime (with `deadlocks`, only
 * those the dump's deadlock section names; with `warned`, only those its
 * task warnings name; those sections stay whole). */
void tdc_filter_apply(const tdc_filter *f, tdc_dump *d);

void tdc_filter_free(tdc_filter *f);

#endif /* TDC_FILTER_H */
