/* taskdump/io.h - readiness-based I/O on file descriptors.
 *
 * Register a non-blocking descriptor with a runtime's epoll driver once
 * (td_io_register), then await readiness or whole operations on it.  The
 * driver is edge-triggered and remembers readiness until an operation
 * reports EAGAIN, so each operation costs one system call when data is
 * waiting.  At most one task may wait for reading and one for writing on the
 * same td_io at a time (as with tokio's poll_read_ready); a second waiter
 * in the same direction replaces the first one's wake-up.
 *
 * Operation results follow the system calls, with errors as negative errno
 * values in the `result` fields (never in errno).
 */
#ifndef TASKDUMP_IO_H
#define TASKDUMP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "taskdump/export.h"
#include "taskdump/future.h"
#include "taskdump/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

struct td_io_driver;

/* Interest / readiness bits. */
#define TD_IO_READABLE 1u
#define TD_IO_WRITABLE 2u

/* A descriptor registered with a runtime.  Fields are private. */
typedef struct td_io {
	struct td_io_driver *driver; /* NULL: not registered */
	int fd;
	uint32_t token;
	uint32_t gen;
} td_io;

/* Register `fd` (made non-blocking here) with the runtime of the calling
 * thread, or `rt` when given.  Returns 0, -ESRCH (no runtime), -EBADF,
 * -ENOMEM, or another epoll_ctl error.  The td_io must stay in place
 * until td_io_deregister. */
TD_API int td_io_register(td_runtime *rt, td_io *io, int fd);

/* Remove the registration (does not close the fd).  Operations still
 * waiting on it complete with -ECANCELED.  Idempotent. */
TD_API void td_io_deregister(td_io *io);

/* Deregister and close the descriptor. */
TD_API void td_io_close(td_io *io);

/* Wait until the descriptor is ready for `interest`. */
typedef struct td_io_ready {
	td_future base;
	td_io *io;
	uint32_t interest;
	uint32_t ready;  /* after TD_READY: the readiness seen */
	int result;      /* after TD_READY: 0 or -ECANCELED / -EBADF */
} td_io_ready;

TD_API void td_io_ready_init(td_io_ready *f, td_io *io, uint32_t interest);

/* read(2) once, waiting for data: result = bytes read (0 at end of
 * file) or -errno. */
typedef struct td_io_read {
	td_future base;
	td_io *io;
	void *buf;
	size_t len;
	ssize_t result;
} td_io_read;

TD_API void td_io_read_init(td_io_read *f, td_io *io, void *buf, size_t len);

/* write(2) until all `len` bytes are written (or an error): result = len
 * or -errno (bytes written before an error are in `written`).  Uses
 * send(MSG_NOSIGNAL) on sockets, so a closed peer gives -EPIPE instead of
 * SIGPIPE. */
typedef struct td_io_write {
	td_future base;
	td_io *io;
	const void *buf;
	size_t len;
	size_t written;
	ssize_t result;
	int use_send; /* private */
} td_io_write;

TD_API void td_io_write_init(td_io_write *f, td_io *io, const void *buf,
			     size_t len);

/* accept4(2) on a listening socket: result = the new descriptor
 * (non-blocking, close-on-exec; not registered) or -errno. */
typedef struct td_io_accept {
	td_future base;
	td_io *io;
	int result;
	struct sockaddr_storage addr;
	socklen_t addrlen;
} td_io_accept;

TD_API void td_io_accept_init(td_io_accept *f, td_io *listener);

/* connect(2) on a registered, non-blocking socket: result = 0 or -errno. */
typedef struct td_io_connect {
	td_future base;
	td_io *io;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int started; /* private */
	int result;
} td_io_connect;

TD_API void td_io_connect_init(td_io_connect *f, td_io *io,
			       const struct sockaddr *addr, socklen_t addrlen);

/* Create a TCP listening socket on `host` (a numeric IPv4/IPv6 address;
 * NULL: 127.0.0.1) and `port` (0: an ephemeral port), non-blocking and
 * close-on-exec.  Returns the fd and stores the bound port in *bound_port
 * (if non-NULL), or -errno. */
TD_API int td_tcp_listen(const char *host, uint16_t port, int backlog,
			 uint16_t *bound_port);

/* Create a non-blocking, close-on-exec TCP socket for host:port (a numeric
 * IPv4 or IPv6 address; NULL host: 127.0.0.1) and fill in `addr` and
 * `addrlen` for connecting to it.  Returns the fd or -errno. */
TD_API int td_tcp_socket_for(const char *host, uint16_t port,
			     struct sockaddr_storage *addr,
			     socklen_t *addrlen);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_IO_H */
