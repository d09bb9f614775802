#!/usr/bin/env python3
"""run_agent_tests.py - integration tests of libtaskdump_agent.so.

Real processes under LD_PRELOAD, real signals, real dump files.  One case
per run (meson runs each as its own test, see meson.build):

    run_agent_tests.py CASE
    run_agent_tests.py --list

The cases live in demo_cases.py (the demo in every flavor and format, a
signal storm), app_cases.py (the small test programs: the program's own
handler, no runtime, a late dlopen, fork, unwritable directories, bad
environment values, signal names, exiting mid-dump, set-user-ID) and
bug_cases.py (a stuck worker, and the cases that pin down bugs these tests
found); agentlib.py has what they share, dumpcheck.py reads dump files
strictly (README.md (dump file formats)).

The programs come from the environment (meson.build sets it): TD_AGENT,
TD_DEMO, TD_APP, TD_NORUNTIME, TD_SECURE, TD_DLOPEN, TD_LIBTASKDUMP,
TD_SANITIZE.  Every case uses a fresh temporary directory (kept, and
named, when the case fails), waits for files and lines by polling with a
deadline rather than by fixed sleeps, and kills every process it started
(whole process groups, so forked children too) on its way out.  At the
end of every case, every program's stderr is searched for sanitizer
reports.

Exit status: 0 pass, 1 fail, 77 skip (meson's convention).  A case that
hits a known bug (agentlib.KNOWN_BUGS) SKIPs, naming it, after its other
checks passed.

ASan: a program built with -fsanitize=address insists that libasan is the
first object in the initial library list; LD_PRELOAD=agent.so puts the
agent (which needs libasan itself) first and ASan aborts with "ASan runtime
does not come first in initial library list".  Two ways out both work:
LD_PRELOAD="<libasan.so> agent.so" (used here: it keeps the check on), or
ASAN_OPTIONS=verify_asan_link_order=0.  See asan_preload() in agentlib.py.
"""
import os
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import app_cases  # noqa: E402
import bug_cases  # noqa: E402
import demo_cases  # noqa: E402
import hostile_cases  # noqa: E402
from agentlib import (ENV, KNOWN_BUGS, KNOWN_FAILED, KNOWN_REPORTS,  # noqa
                      OPTIONAL_ENV,
                      PROCS, SKIP, Skip, TestFailure, check, log,
                      preload_value, sanitizer_reports)


# ---- main ----------------------------------------------------------------

CASES = {name[len('case_'):]: fn
         for mod in (demo_cases, app_cases, bug_cases, hostile_cases)
         for name, fn in vars(mod).items() if name.startswith('case_')}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES and \
            sys.argv[1] != '--list':
        print('usage: run_agent_tests.py CASE|--list\ncases: ' +
              ' '.join(CASES), file=sys.stderr)
        return 2
    if sys.argv[1] == '--list':
        print('\n'.join(CASES))
        return 0
    for k, v in ENV.items():
        if k not in OPTIONAL_ENV and not v:
            print('%s is not set (run through meson test)' % k,
                  file=sys.stderr)
            return 2
    name = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix='td-agent-%s-' % name)
    t0 = time.monotonic()
    status = 1
    try:
        log('case %s in %s (sanitize=%s, LD_PRELOAD=%s)', name, tmp,
            ENV['TD_SANITIZE'] or 'none', preload_value())
        CASES[name](tmp)
        known, unknown = sanitizer_reports(PROCS)
        check(not unknown, 'sanitizer reports: %r', unknown[:10])
        for key in known:
            log('KNOWN BUG (%s), reported by a sanitizer: %s', key,
                KNOWN_REPORTS[key][1])
        if KNOWN_FAILED:
            raise Skip('every other check passed; known bug(s): ' +
                       '; '.join(KNOWN_BUGS[k] for k in set(KNOWN_FAILED)))
        status = 0
        log('PASS %s in %.1f s', name, time.monotonic() - t0)
    except Skip as e:
        status = SKIP
        log('SKIP %s: %s', name, e)
    except Exception as e:
        traceback.print_exc()
        log('FAIL %s after %.1f s: %s', name, time.monotonic() - t0, e)
        for p in PROCS:
            log(p.transcript())
    finally:
        for p in PROCS:
            p.cleanup()
    if status == 1:
        log('kept %s for inspection', tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == '__main__':
    sys.exit(main())
