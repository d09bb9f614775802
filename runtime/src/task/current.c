/* current.c - which task is being polled on this thread. */
#include "taskdump/task.h"
#include "task/core.h"
#include "task/current.h"

__thread struct td_task *td_tls_current_task
	__attribute__((tls_model("initial-exec")));
__thread struct td_task *td_tls_polling_task
	__attribute__((tls_model("initial-exec")));
__thread bool td_tls_self_woken __attribute__((tls_model("initial-exec")));
__thread uint32_t td_tls_poll_end __attribute__((tls_model("initial-exec")));
__thread bool td_tls_poll_end_ok __attribute__((tls_model("initial-exec")));

uint64_t td_task_current_id(void)
{
	struct td_task *t = td_tls_current_task;
	return t ? t->id : 0;
}
