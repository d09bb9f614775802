/* pager.h - long reports through a pager on a terminal, as git does.
 *
 * The pager is $TASKDUMP_PAGER, else $PAGER, else "less -R"; an empty
 * value or "cat" means none.  It runs through /bin/sh -c with LESS=FRX
 * (and LV=-c) in its environment unless those are set, reading what the
 * tool writes to its stdout.  Only when stdout is a terminal, and not
 * after tdc_pager_disable (--no-pager).
 *
 * The tool waits for the pager to exit before it exits.  A user who quits
 * the pager before the end of the output ends the tool quietly with
 * status 0 (SIGPIPE, or EPIPE from a write: tdc_pager_broken). */
#ifndef TDC_PAGER_H
#define TDC_PAGER_H

#include <stdbool.h>

/* --no-pager: tdc_pager_start does nothing from now on. */
void tdc_pager_disable(void);

/* The pager command the environment asks for, or NULL for none. */
const char *tdc_pager_command(void);

/* Start the pager and make it stdout, when stdout is a terminal, paging
 * is not disabled and a pager is configured.  A pager that cannot be
 * found gets one warning on stderr and the output goes to the terminal.
 * Returns whether a pager now reads stdout (once started, later calls
 * return true). */
bool tdc_pager_start(void);

/* Whether a pager reads stdout. */
bool tdc_pager_active(void);

/* Called when writing stdout failed with `err`: if a pager is active and
 * err is EPIPE (the user quit it), wait for it and exit 0; else return. */
void tdc_pager_broken(int err);

#endif /* TDC_PAGER_H */
