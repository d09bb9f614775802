"""bug_cases.py - a worker stuck in a long poll, and the cases that pin
down bugs these tests found: regression tests for the fixed ones, and
cases that SKIP with the description while a bug is there (KNOWN_BUGS in
agentlib.py).  See run_agent_tests.py."""
import os
import re
import shutil
import signal
import subprocess
import time

from agentlib import *  # noqa: F401,F403 (the shared test vocabulary)
from app_cases import app_tasks_ok
from demo_cases import start_demo_ready


# ---- a worker stuck in a long poll ---------------------------------------

def stuck_one(tmp, flavor_args, label):
    """A task blocks its worker in poll() for 5 s; TASKDUMP_TIMEOUT_MS=500:
    the dump must come within the deadline (file within ~2 s), pause the
    rest for the grace period only, and name the stuck task, its worker
    (busy, for how long, in poll(2), its native stack)."""
    d = os.path.join(tmp, label)
    os.mkdir(d)
    p = Proc([ENV['TD_APP']] + flavor_args,
             env={'TASKDUMP_DIR': d, 'TASKDUMP_TIMEOUT_MS': '500'},
             name='app-' + label)
    p.wait_line(r'^agent_app: pid \d+ ready$')
    p.send('stuck 5000')
    m = p.wait_line(r'^stuck (\d+) entered$')
    stuck_id = int(m.group(1))
    t_entered = time.monotonic()
    t0 = time.monotonic()
    p.kill(signal.SIGUSR1)
    path = wait_dump(d, p.pid, 1, timeout=10)
    took = time.monotonic() - t0
    still = not any(x.startswith('stuck %d left' % stuck_id)
                    for x in p.lines())
    log('%s: dump after %.3f s (stuck task still blocked: %s)', label, took,
        still)
    check(still, 'the stuck task returned before the dump arrived')
    check(took < 2.0 * SCALE, 'the dump took %.2f s (deadline 500 ms)', took)
    dump = check_file(path, p.pid)
    rt = dump.runtimes[0]
    busy = [w for w in rt.workers if w.state == 'busy']
    check(len(busy) == 1 and busy[0].task == stuck_id,
          'workers %r (stuck task %d)', rt.workers, stuck_id)
    w = busy[0]
    least = int((t0 - t_entered) * 1000) - 20
    check(w.busy_ms is not None and least <= w.busy_ms < 5000,
          'worker %d busy in task %d: busy_ms=%s, blocked >= %d ms',
          w.index, stuck_id, w.busy_ms, least)
    # Blocked in poll(2), and said so; and the stuck worker held nobody
    # up: the others went on after the grace period, not the deadline.
    check(w.syscall == 'poll', 'worker %d: syscall=%r', w.index, w.syscall)
    check(float(dump.header['pause_ms']) < 400,
          'paused %s ms with one worker stuck', dump.header['pause_ms'])
    check(w.stack, 'no native stack: %s', w.stack_error)
    check(subseq(['block_worker', 'stuck_poll'], w.stack),
          'native stack %r', w.stack)
    st = dump.task(stuck_id)
    check(st is not None and st.state == 'running' and not st.traced and
          st.not_traced, 'stuck task entry %r', st)
    log('%s: stuck task: not traced: %s', label, st.not_traced)
    check(re.match(r'running on worker %d for \d+ ms$' % w.index,
                   st.not_traced), 'not traced: %r', st.not_traced)
    # The other tasks: traced (multi-thread: the other worker paused), or
    # listed with the reason (current-thread: their one thread is stuck,
    # and their code may rely on running there).
    sleepers = dump.by_name('sleeper')
    check(len(sleepers) == 3, '%d sleepers', len(sleepers))
    for s in sleepers:
        if flavor_args:
            check(not s.traced and s.not_traced ==
                  'the runtime\'s thread is busy in task %d' % stuck_id,
                  'sleeper %d: %r', s.id, s)
        else:
            check(s.traced and s.traces, 'sleeper %d not traced: %s', s.id,
                  s.not_traced)
    # After the stuck poll ends, the program runs on and dumps normally.
    p.wait_line(r'^stuck %d left$' % stuck_id, timeout=30)
    _, dump2 = trigger(p, d, 2)
    app_tasks_ok(dump2)
    # Nobody stuck any more: stopped for the dump (stop-the-world) or
    # running on (incremental, the default).
    want = 'paused' if dump2.header.get('mode') == 'stop' else 'running'
    check(all(w.state == want for w in dump2.runtimes[0].workers),
          'workers after: %r', dump2.runtimes[0].workers)
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)


def case_stuck_worker(tmp):
    stuck_one(tmp, [], 'multi')
    stuck_one(tmp, ['--current-thread'], 'current')


def case_connect_race(tmp):
    """Regression test, agent idle: the demo with 8 clients of one request
    each must finish.  td_io_connect_poll() used to clear the socket's
    readiness after connect() returned EINPROGRESS; when the driver had
    recorded the completed connection's EPOLLOUT edge in between
    (edge-triggered; loopback connects complete in microseconds), the
    clear erased it and the client waited forever (18 of 300 runs hung
    here before commit 7726db1 fixed it).  Up to 100 runs; a hung run is
    dumped (that is what the agent is for) to show the client."""
    runs = 100
    for i in range(runs):
        d = os.path.join(tmp, 'run%d' % i)
        os.mkdir(d)
        p = Proc([ENV['TD_DEMO'], '--requests', '1', '--clients', '8'],
                 env={'TASKDUMP_DIR': d}, cwd=d, name='demo%d' % i)
        try:
            rc = p.p.wait(10 * SCALE)
        except subprocess.TimeoutExpired:
            _, dump = trigger(p, d, 1)
            stuck = [(t.id, t.polls, t.traces[0].wait)
                     for t in dump.by_name('client') if t.traces and
                     'td_io_connect_poll' in t.traces[0].functions]
            p.cleanup()
            raise TestFailure('run %d hung after %.0f s; clients (id, '
                              'polls, wait) still connecting: %r'
                              % (i, 10 * SCALE, stuck))
        for t in p.readers:
            t.join(10)
        check(rc == 0, 'run %d: exit %d: %r', i, rc, p.lines())
    log('%d runs, no hang', runs)


def case_never_polled_task(tmp):
    """A task that was spawned but never polled waits on nothing yet: a
    dump must list it without running any of its code.  The worker is kept
    busy so that the task "fresh" stays unpolled while the dump is taken
    (multi-thread runtimes trace their tasks even when a worker does not
    pause).  Regression test: dumps used to trace such tasks, running
    their first steps (side effects included: the demo's clients failed
    to register their sockets, its connections closed theirs) on the
    agent's thread, outside the runtime (fixed in commit e8728a9)."""
    p = Proc([ENV['TD_APP'], '--workers', '1'],
             env={'TASKDUMP_DIR': tmp, 'TASKDUMP_TIMEOUT_MS': '300'},
             name='app')
    p.wait_line(r'^agent_app: pid \d+ ready$')
    p.send('stuck 3000')
    stuck_id = int(p.wait_line(r'^stuck (\d+) entered$').group(1))
    p.send('fresh')
    fresh_id = int(p.wait_line(r'^fresh (\d+)$').group(1))
    before = len(p.lines())
    p.send('count')
    m = p.wait_line(r'^count .* fresh=(\d+) outside=(\d)$', after=before)
    check(m.group(1) == '0', 'fresh ran before the dump')
    _, dump = trigger(p, tmp, 1)
    check(not any(x == 'stuck %d left' % stuck_id for x in p.lines()),
          'the worker got free before the dump: retry on a quieter machine')
    t = dump.task(fresh_id)
    check(t is not None and t.polls == 0 and not t.traces,
          'fresh in the dump: %r', t)
    log('fresh: state %s, traced %s, not traced: %s', t.state, t.traced,
        t.not_traced)
    before = len(p.lines())
    p.send('count')
    m = p.wait_line(r'^count .* fresh=(\d+) outside=(\d)$', after=before)
    check(m.group(1) == '0' and m.group(2) == '0',
          'after the dump, fresh\'s first steps ran %s time(s) (outside the '
          'runtime: %s) although the task was never polled',
          m.group(1), m.group(2) == '1')
    # Its first real poll, on the worker, once that is free.
    p.wait_line(r'^stuck %d left$' % stuck_id, timeout=30)
    wait_progress(p, r'^count .* fresh=(\d+) ')
    before = len(p.lines())
    p.send('count')
    m = p.wait_line(r'^count .* fresh=(\d+) outside=(\d)$', after=before)
    check(m.group(1) == '1' and m.group(2) == '0', 'fresh after: %s',
          m.group(0))
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)


def case_setxid_capabilities(tmp):
    """A program that changes its credentials with per-thread capability
    calls (setpriv: setresuid, capset on its own thread, setresgid) under
    the agent.  glibc's set*id() runs the call on every thread and aborts
    the process when the threads disagree; the agent's thread, created
    before capset(), lacks CAP_SETGID."""
    if os.geteuid() != 0 or not shutil.which('setpriv'):
        raise Skip('needs root and setpriv')
    import pwd
    pw = pwd.getpwnam('nobody')
    r = subprocess.run(['setpriv', '--reuid=%d' % pw.pw_uid,
                        '--regid=%d' % pw.pw_gid, '--clear-groups', '--',
                        'true'], env=base_env(), capture_output=True,
                       cwd=tmp)
    known_bug('setxid', r.returncode == 0,
              'setpriv under the agent exited %d (%s)'
              % (r.returncode, r.stderr.decode(errors='replace').strip()))


# ---- sanitizer reports of the runtime ------------------------------------

def case_sanitizer_reports(tmp):
    """The demo and a few dumps under the sanitizers: no report at all."""
    if not SANITIZED:
        raise Skip('needs a -Db_sanitize=address,undefined build')
    p, _, _ = start_demo_ready(tmp, [], {}, 4)
    for seq in range(2, 6):
        trigger(p, tmp, seq)
    rc = p.finish(sig=signal.SIGTERM)
    check(rc == 0, 'exit %d', rc)
    known, unknown = sanitizer_reports(PROCS)
    check(not unknown, 'sanitizer reports: %r', unknown[:10])
    for key in KNOWN_REPORTS:
        known_bug(key, key not in known, KNOWN_REPORTS[key][1])
