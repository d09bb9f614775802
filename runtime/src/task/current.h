/* current.h - internal: the task being polled on this thread. */
#ifndef TD_TASK_CURRENT_H
#define TD_TASK_CURRENT_H

#include <stdbool.h>
#include <stdint.h>

struct td_task;

/* Set by the task harness around every poll; NULL outside tasks. */
extern __thread struct td_task *td_tls_current_task
	__attribute__((tls_model("initial-exec")));

/* Set by td_task_run around a real poll (not a tracing poll), NULL
 * otherwise.  A wake_by_ref of that task on this thread during the poll (a
 * yield) only sets td_tls_self_woken: the task is RUNNING here, so the
 * wake could do nothing but note NOTIFIED, and td_task_run notes it in the
 * same atomic step that ends the poll instead of a separate one. */
extern __thread struct td_task *td_tls_polling_task
	__attribute__((tls_model("initial-exec")));
extern __thread bool td_tls_self_woken
	__attribute__((tls_model("initial-exec")));

/* The task clock (td_task_clock32) read at the end of this thread's last
 * real poll, and whether it still stands for "now" to within the
 * scheduler's own bookkeeping: then the next poll starts from it instead
 * of reading the clock again (one clock read per poll).  Anything that may
 * take longer than a queue operation between two polls - parking, the
 * dump gate, driver turns, block_on futures - calls td_task_clock_forget
 * first. */
extern __thread uint32_t td_tls_poll_end
	__attribute__((tls_model("initial-exec")));
extern __thread bool td_tls_poll_end_ok
	__attribute__((tls_model("initial-exec")));

static inline void td_task_clock_forget(void)
{
	td_tls_poll_end_ok = false;
}

#endif /* TD_TASK_CURRENT_H */
