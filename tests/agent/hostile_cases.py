"""hostile_cases.py - the agent in programs that do unusual things (issue
10): they close or reuse every descriptor, exhaust RLIMIT_NOFILE, rely on
their own signal semantics, fork from a task during dumps, chdir; dumps
killed midway; sanitizer-built programs under a signal storm.  The
programs are agent_hostile (see agent_hostile.c) and agent_app built with
-fsanitize=thread / address.  See run_agent_tests.py."""
import os
import random
import re
import signal
import subprocess
import time

from agentlib import *  # noqa: F401,F403 (the shared test vocabulary)


def hostile(args, tmp, env=None, cwd=None, name=None):
    d = os.path.join(tmp, 'dumps')
    os.makedirs(d, exist_ok=True)
    e = {'TASKDUMP_DIR': d}
    e.update(env or {})
    p = Proc([ENV['TD_HOSTILE']] + args, env=e, cwd=cwd,
             name=name or 'hostile-' + '-'.join(args))
    p.wait_line(r'^hostile: pid \d+ ready$')
    return p, d


# A child forked from a task exit()s (destructors, stdio flushed: a copy
# of a dump stream must write nothing).  Under AddressSanitizer a child
# forked in the middle of a dump would run LeakSanitizer at exit over the
# parent's half-built dump (the agent thread, whose stack held it, is not
# in the child) and report it, or hang stopping threads that are not
# there: such children _exit() instead.
FORK_ENV = ({'HOSTILE_CHILD_EXIT': '1', 'ASAN_OPTIONS': 'detect_leaks=0'}
            if SANITIZED else {})


def request(p, i):
    """Alternately a kill (any thread) and a tgkill to the agent thread."""
    if i % 2:
        tgkill(p.pid, wait_for(lambda: agent_tid(p.pid), 10,
                               'the agent thread'), signal.SIGUSR1)
    else:
        p.kill(signal.SIGUSR1)


# ---- descriptors (item 1) --------------------------------------------------

def fds_case(tmp, how):
    p, d = hostile(['fds', how], tmp)
    # Requests while the program streams its own bytes through its pipe
    # (about 400 ms) and before it writes its log.
    for i in range(10):
        request(p, i)
        time.sleep(0.03)
    p.wait_line(r'^hostile: transfer done$', timeout=30)
    if how == 'rlimit':
        # No descriptor to spare: each dump fails with one clear line.
        m = p.wait_line(r'^taskdump: cannot write a dump in (.*)$', 'err')
        check('Too many open files' in m.group(1), 'the reason: %r',
              m.group(0))
        check(not dump_files(d), 'dumps without a descriptor? %r',
              os.listdir(d))
        p.send('raise')
        p.wait_line(r'^hostile: raised$')
        before = len(dump_files(d, p.pid))
        trigger(p, d, before + 1)
    else:
        wait_for(lambda: dump_files(d, p.pid), 20, 'a dump')
        # The last request's dump, too (coalesced ones make fewer).
        time.sleep(0.3 * SCALE)
        for _, path in dump_files(d, p.pid):
            check_file(path, p.pid)
    time.sleep(0.5)  # the agent thread idle: it must not spin
    p.send('stop')
    m = p.wait_line(r'^fds: pipe=(\w+) bytes=(\d+) log=(\w+) size=(\d+) '
                    r'agent_cpu_ms=(-?\d+)$')
    check(m.group(1) == 'OK', 'the program\'s pipe: %s, %s of 8000 bytes',
          m.group(1), m.group(2))
    check(m.group(3) == 'OK', 'the program\'s log: %s (%s bytes, 1350 '
          'written)', m.group(3), m.group(4))
    check(0 <= int(m.group(5)) < 1000 * SCALE, 'the agent thread used '
          '%s ms of CPU', m.group(5))
    check(not temp_files(d), 'temp files left')
    check(p.finish(quit_cmd=None) == 0, 'exit status')


def case_hostile_fds_closeall(tmp):
    """A daemon that closes every descriptor at start and then opens its
    log and a pipe under the lowest numbers: nothing written into them,
    nothing read from them, no spinning."""
    fds_case(tmp, 'closeall')


def case_hostile_fds_dup2(tmp):
    """A program that dup2()s its pipe over descriptors 3..19."""
    fds_case(tmp, 'dup2')


def case_hostile_fds_rlimit(tmp):
    """RLIMIT_NOFILE exhausted: one clear line per dump, nothing harmed;
    dumps again once the program raises its limit."""
    fds_case(tmp, 'rlimit')


# ---- the program's own handler (item 2) -----------------------------------

def case_hostile_signals(tmp):
    """The program's SIGUSR1 handler keeps its semantics under the agent:
    no SA_RESTART (pthread_kill breaks a read with EINTR), its sa_mask,
    SA_RESETHAND, SIG_IGN inherited through exec; the program's own
    signals to itself are no dump requests; a kill from outside is both a
    dump and a call of the program's handler."""
    p, d = hostile(['signals'], tmp)
    m = p.wait_line(r'^signals: eintr=(\d) read_ms=(\d+) mask=(\d) '
                    r'resethand=(\d) exec_ignored=(\d) handler=(\d+)$')
    check(m.group(1) == '1', 'pthread_kill did not break the read out '
          'with EINTR (waited %s ms)', m.group(2))
    check(m.group(3) == '1', 'the handler ran without its sa_mask')
    check(m.group(4) == '1', 'SA_RESETHAND did not reset to SIG_DFL')
    check(m.group(5) == '1', 'SIG_IGN was not inherited through exec')
    calls = int(m.group(6))
    check(calls == 2, 'the handler ran %d times, not 2', calls)
    time.sleep(0.3)
    check(not dump_files(d), 'the program\'s own signals made dumps: %r',
          os.listdir(d))
    trigger(p, d, 1)
    p.send('stop')
    m = p.wait_line(r'^signals: handler=(\d+)$')
    check(int(m.group(1)) == calls + 1, 'the outside kill ran the '
          'handler %d times', int(m.group(1)) - calls)
    check(p.finish(quit_cmd=None) == 0, 'exit status')


# ---- fork from a task during dumps (item 4) -------------------------------

def case_hostile_fork_during_dump(tmp):
    """A task that forks every millisecond (its children exit() at once)
    while dumps are taken, with TASKDUMP_TIMEOUT_MS=5000: no fork waits
    for a dump, no dump waits for a fork, every file is whole."""
    if SANITIZED:
        # gcc 12's AddressSanitizer allocator is not fork-safe: a child
        # forked while another thread allocates (the agent thread, in a
        # dump) hangs in its first allocation (seen: its new agent thread
        # in the quarantine's lock).  Nothing the agent can change.
        raise Skip('AddressSanitizer\'s allocator is not fork-safe (a '
                   'child forked while another thread allocates hangs)')
    env = dict(FORK_ENV, TASKDUMP_TIMEOUT_MS='5000')
    p, d = hostile(['fork', '5000'], tmp, env=env)
    pauses, totals = [], []
    for seq in range(1, 21):
        _, dump = trigger(p, d, seq, timeout=30)
        pauses.append(float(dump.header['pause_ms']))
        totals.append(float(dump.header['total_ms']))
        time.sleep(random.uniform(0, 0.02))
    p.send('stop')
    m = p.wait_line(r'^fork: forks=(\d+) max_ms=([\d.]+)$')
    totals.sort()
    median = totals[len(totals) // 2]
    log('forks %s, slowest %s ms; dumps: pause max %.1f ms, total median '
        '%.1f ms', m.group(1), m.group(2), max(pauses), median)
    check(int(m.group(1)) >= 20, 'only %s forks', m.group(1))
    # (A fork that waited for the dump lock took 90 ms.)
    check(float(m.group(2)) < 50 * SCALE,
          'a fork took %s ms (a dump: %.1f ms)', m.group(2), median)
    check(max(pauses) < 1000 * SCALE, 'a dump paused the runtime %.1f ms',
          max(pauses))
    check(p.finish(quit_cmd=None) == 0, 'exit status')
    check(not temp_files(d), 'temp files left')


# ---- nothing left behind (item 6) -----------------------------------------

def case_hostile_no_file_left(tmp):
    """A stale temporary name never blocks a dump; a process killed in
    the middle of a dump leaves no file behind."""
    p, d = hostile(['chdir'], tmp)
    for seq in (1, 2):
        stale = os.path.join(d, '.taskdump-%d-%d.tmp' % (p.pid, seq))
        fd = os.open(stale, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    trigger(p, d, 1)
    trigger(p, d, 2)
    check(p.finish(quit_cmd='stop') == 0, 'exit status')
    for n in os.listdir(d):
        if n.startswith('.taskdump-'):
            os.unlink(os.path.join(d, n))
    # Killed mid-dump: 20000 tasks make dumps long enough to be hit.
    hit = 0
    for i in range(6):
        q, _ = hostile(['fork', '20000'], tmp, env=FORK_ENV,
                       name='victim-%d' % i)
        q.kill(signal.SIGUSR1)
        time.sleep(random.uniform(0.002, 0.03))
        q.kill(signal.SIGKILL)
        q.p.wait(10)
        if not dump_files(d, q.pid):
            hit += 1
        left = [n for n in os.listdir(d) if not DUMP_RE.match(n)]
        check(not left, 'a killed dump left %r', left)
    log('%d of 6 dumps were killed before they were written', hit)


# ---- a relative TASKDUMP_DIR (item 7) -------------------------------------

def case_hostile_relative_dir(tmp):
    """A relative TASKDUMP_DIR is resolved where the program started,
    even after it chdir()s; taskdump dump finds the file there."""
    rel = os.path.join(tmp, 'rel')
    os.mkdir(rel)
    p = Proc([ENV['TD_HOSTILE'], 'chdir'], env={'TASKDUMP_DIR': 'rel'},
             cwd=tmp, name='hostile-chdir')
    p.wait_line(r'^hostile: pid \d+ ready$')
    check(os.readlink('/proc/%d/cwd' % p.pid) == '/', 'no chdir')
    trigger(p, rel, 1)
    if ENV['TD_TOOL']:
        r = subprocess.run([ENV['TD_TOOL'], 'dump', '-t', '20s',
                            str(p.pid)], capture_output=True, text=True,
                           timeout=60 * SCALE)
        check(r.returncode == 0 and r.stdout.startswith('taskdump 1'),
              'taskdump dump: exit %d: %s', r.returncode, r.stderr)
        check_file(wait_dump(rel, p.pid, 2), p.pid)
    check(p.finish(quit_cmd='stop') == 0, 'exit status')


# ---- sanitizer-built programs under a signal storm (item 9) ---------------

def sanitized_env(app):
    """LD_PRELOAD for an ASan-built program: its libasan first."""
    out = subprocess.run(['ldd', app], capture_output=True,
                         text=True).stdout
    m = re.search(r'libasan\.so[.\d]* => (\S+)', out)
    pre = (m.group(1) + ' ' if m else '') + ENV['TD_AGENT']
    return {'LD_PRELOAD': pre,
            # (The runtime library is not instrumented: TSan would report races
            # in the program's tasks that the library's own atomics order.
            # What is tested is that TSan's runtime survives the agent.)
            'TSAN_OPTIONS': 'report_bugs=0',
            'ASAN_OPTIONS': 'detect_leaks=0'}


def case_sanitized_storm(tmp):
    """agent_app built with ThreadSanitizer and with AddressSanitizer,
    preloaded with the agent, under 300 dump requests in a burst: no
    deadlock, dumps written, the program answers and exits cleanly."""
    apps = [(k, ENV[k]) for k in ('TD_APP_TSAN', 'TD_APP_ASAN') if ENV[k]]
    if not apps:
        raise Skip('no sanitizer-built program (a sanitizer build, or '
                   'the compiler has neither)')
    for key, app in apps:
        d = os.path.join(tmp, key)
        os.mkdir(d)
        env = sanitized_env(app)
        env['TASKDUMP_DIR'] = d
        p = Proc([app], env=env, name=key, preload=False)
        p.wait_line(r'^agent_app: pid \d+ ready$', timeout=60)
        tid = wait_for(lambda: agent_tid(p.pid), 10, 'the agent thread')
        for i in range(300):
            if i % 2:
                tgkill(p.pid, tid, signal.SIGUSR1)
            else:
                p.kill(signal.SIGUSR1)
            if i % 10 == 0:
                time.sleep(0.002)
        wait_for(lambda: dump_files(d, p.pid), 30, 'a dump')
        wait_progress(p, r'^count handler=\d+ rounds=(\d+)', timeout=60)
        rc = p.finish(timeout=120)
        check(rc == 0, '%s: exit %d', key, rc)
        for _, path in dump_files(d, p.pid):
            check_file(path, p.pid)
        log('%s: %d dumps from 300 requests', key,
            len(dump_files(d, p.pid)))


# ---- the dump signal is any signal (item 3) -------------------------------

def case_hostile_rtmin7(tmp):
    """TASKDUMP_SIGNAL=rtmin+7 (once the runtime's own stack-capture
    signal: a stuck worker then made dump after dump): the runtime uses no
    signal, so one request is one dump, also with a worker stuck."""
    d = os.path.join(tmp, 'dumps')
    os.mkdir(d)
    sig = signal.SIGRTMIN + 7
    p = Proc([ENV['TD_APP']], env={'TASKDUMP_DIR': d,
                                   'TASKDUMP_SIGNAL': 'rtmin+7'},
             name='app-rtmin7')
    p.wait_line(r'^agent_app: pid \d+ ready$')
    p.send('stuck 2500')
    p.wait_line(r'^stuck \d+ entered$')
    _, dump = trigger(p, d, 1, sig=sig)
    busy = [w for r in dump.runtimes for w in r.workers if w.state == 'busy']
    check(busy, 'no busy worker in the dump')
    time.sleep(1.5 * SCALE)
    check(len(dump_files(d, p.pid)) == 1, 'one request, %d dumps',
          len(dump_files(d, p.pid)))
    check(p.finish() == 0, 'exit status')
