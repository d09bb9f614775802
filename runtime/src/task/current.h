/* current.h - internal: the task being polled on this thread. */
#ifndef TD_TASK_CURRENT_H
#define TD_TASK_CURRENT_H

#include <stdint.h>

struct td_task;

/* Set by the task harness around every poll; NULL outside tasks. */
extern __thread struct td_task *td_tls_current_task
	__attribute__((tls_model("initial-exec")));

#endif /* TD_TASK_CURRENT_H */
