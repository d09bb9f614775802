/* dumpdir.h - a target's dump directory and dump files, opened so that the
 * target cannot make the tool read anything else.
 *
 * The target - a process that may run as another user and may be hostile
 * - chooses the directory (TASKDUMP_DIR, its working directory) and puts
 * into it whatever it likes.  So:
 *
 *  - The directory is opened with the target's file system credentials
 *    (when the tool runs as root, a child process takes them for that one
 *    open): a symbolic link anywhere on the path leads only where the
 *    target itself may go.  The tool then works on that open directory,
 *    never on its name again, so a link re-pointed later changes nothing.
 *  - A dump file is opened by its name in that directory, without
 *    following a link and without blocking (O_NOFOLLOW | O_NONBLOCK), and
 *    only if it is what the agent writes: a regular file owned by the
 *    target's file system uid, with no permission for group or others,
 *    at most TDC_MAX_DUMP_FILE bytes.  It is read up to the size it had
 *    then (tdc_input_fd), never further: a FIFO, a device, a link to a
 *    secret or a file that keeps growing is refused or cannot run on. */
#ifndef TDC_DUMPDIR_H
#define TDC_DUMPDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"

/* What failed in tdc_dumpdir_open. */
enum tdc_dir_stage {
	TDC_DIR_IDENTITY, /* taking the target's credentials */
	TDC_DIR_OPEN,     /* opening the directory */
};

/* Open the directory `path` (absolute, or relative to basefd) as a process
 * with the credentials `as` may.  Returns a descriptor (O_RDONLY |
 * O_DIRECTORY, close-on-exec) or -errno, with *stage saying what failed
 * (-ETIMEDOUT: the open took longer than timeout_ms).  *as_other is true
 * when the directory was opened under credentials other than the tool's. */
int tdc_dumpdir_open(int basefd, const char *path, const tdc_creds *as,
		     double timeout_ms, enum tdc_dir_stage *stage,
		     bool *as_other);

/* An accepted dump file. */
typedef struct tdc_dumpfile {
	char *path;    /* for messages (malloc'd) */
	int fd;        /* open for reading, close-on-exec */
	uint64_t size; /* read no more than this */
} tdc_dumpfile;

/* Open `name` in dirfd if it is a dump file the agent could have written
 * for a process whose file system uid is `owner`.  Returns 0 and *f
 * (f->path is left NULL), or -1 with a phrase saying why not in why
 * ("it is a symbolic link"). */
int tdc_dumpfile_open(int dirfd, const char *name, uid_t owner,
		      tdc_dumpfile *f, char *why, size_t size);

void tdc_dumpfile_close(tdc_dumpfile *f);

#endif /* TDC_DUMPDIR_H */
