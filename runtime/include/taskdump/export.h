/* taskdump/export.h - symbol visibility for the public API.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * TD_API (all of them td_-prefixed) are exported. */
#ifndef TASKDUMP_EXPORT_H
#define TASKDUMP_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define TD_API __attribute__((visibility("default")))
#else
#define TD_API
#endif

#endif /* TASKDUMP_EXPORT_H */
