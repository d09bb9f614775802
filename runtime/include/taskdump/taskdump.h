/* taskdump/taskdump.h - everything: include this, or the headers you use.
 *
 *   future.h       futures, poll contexts, async functions (TD_BEGIN ...)
 *   waker.h        wakers
 *   task.h         spawning, join handles
 *   runtime.h      runtimes and block_on
 *   time.h         sleep, timeout, the clock
 *   io.h           epoll readiness, read/write/accept/connect
 *   mutex.h, semaphore.h, mpsc.h, oneshot.h, notify.h   sync primitives
 *   combinators.h  join_all, select, yield_now
 *   trace.h        the leaf hook and trace capture
 *   dump.h         task dumps of live runtimes
 */
#ifndef TASKDUMP_TASKDUMP_H
#define TASKDUMP_TASKDUMP_H

#include "taskdump/combinators.h"
#include "taskdump/dump.h"
#include "taskdump/future.h"
#include "taskdump/io.h"
#include "taskdump/mpsc.h"
#include "taskdump/mutex.h"
#include "taskdump/notify.h"
#include "taskdump/oneshot.h"
#include "taskdump/runtime.h"
#include "taskdump/semaphore.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "taskdump/trace.h"
#include "taskdump/waker.h"

#endif /* TASKDUMP_TASKDUMP_H */
