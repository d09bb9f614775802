/* taskdump/export.h - symbol visibility for the public API.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * TD_API (all of them td_-prefixed) are exported.  The headers compile as
 * C11 and as C++ (C++17 and later). */
#ifndef TASKDUMP_EXPORT_H
#define TASKDUMP_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define TD_API __attribute__((visibility("default")))
#else
#define TD_API
#endif

/* A function that never returns, in C and in C++ (which has no
 * _Noreturn). */
#if defined(__GNUC__) || defined(__clang__)
#define TD_NORETURN __attribute__((noreturn))
#elif defined(__cplusplus)
#define TD_NORETURN [[noreturn]]
#else
#define TD_NORETURN _Noreturn
#endif

#endif /* TASKDUMP_EXPORT_H */
