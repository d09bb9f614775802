"""app_cases.py - the agent with the small test programs (agent_app,
agent_noruntime, agent_dlopen, agent_secure): handlers, no runtime, a
late dlopen, fork, bad directories and environments, signal names,
exiting mid-dump, set-user-ID.  See run_agent_tests.py."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

from agentlib import *  # noqa: F401,F403 (the shared test vocabulary)
from demo_cases import start_demo


# ---- the program's own handler -------------------------------------------

def app_tasks_ok(dump, name='app'):
    check(len(dump.runtimes) == 1 and dump.runtimes[0].name == name,
          'runtimes %r', [r.name for r in dump.runtimes])
    sleepers = dump.by_name('sleeper')
    check(len(sleepers) == 3, '%d sleepers', len(sleepers))
    for s in sleepers:
        check(s.traced and len(s.traces) == 1, 'sleeper %d: %r', s.id, s)
        tr = s.traces[0]
        check(tr.functions == ['sleeper_poll', 'nap_poll', 'td_sleep_poll']
              and tr.wait.startswith('sleep'), 'sleeper trace %r [%s]',
              tr.functions, tr.wait)
    w = dump.by_name('waiter')
    check(len(w) == 1 and w[0].traces and
          w[0].traces[0].functions[0] == 'waiter_poll' and
          w[0].traces[0].wait.startswith('notify'),
          'waiter: %r', w)


def case_own_handler(tmp):
    """The program installs its own SIGUSR1 handler in main, after the
    agent's: both run for every signal.  "ignore": SIG_IGN is installed
    for real (exec inherits it, a kill is ignored as the program asked),
    and requests sent to the agent thread (tgkill, as taskdump dump does)
    still make dumps."""
    for how in ('sigaction', 'signal', 'ignore'):
        d = os.path.join(tmp, how)
        os.mkdir(d)
        p = Proc([ENV['TD_APP'], '--own-handler', how],
                 env={'TASKDUMP_DIR': d}, name='app-' + how)
        p.wait_line(r'^own handler installed \(%s\)$' % how)
        p.wait_line(r'^agent_app: pid \d+ ready$')
        n = 5
        ignored = how == 'ignore'
        if ignored:
            p.kill(signal.SIGUSR1)
            time.sleep(0.5 * SCALE)
            check(p.p.poll() is None and not dump_files(d),
                  'a kill of a program that ignores SIGUSR1: alive=%r, '
                  'files %r', p.p.poll() is None, os.listdir(d))
        for seq in range(1, n + 1):
            path, dump = trigger(p, d, seq, to_agent=ignored)
            app_tasks_ok(dump)
            # The program's handler ran for this signal too (it runs
            # right after the agent's handler wakes the agent thread).
            before = len(p.lines())
            p.send('count')
            m = p.wait_line(r'^count handler=(\d+) ', after=before)
            want = 0 if how == 'ignore' else seq
            check(int(m.group(1)) == want, 'after %d signals the handler '
                  'ran %s times', seq, m.group(1))
        rc = p.finish()
        check(rc == 0, 'exit %d', rc)
        m = p.wait_line(r'^agent_app: results: .* handler=(\d+): ok$')
        want = 0 if how == 'ignore' else n
        check(int(m.group(1)) == want, 'the handler ran %s times, not %d',
              m.group(1), want)
        check(len(dump_files(d)) == n, '%d dumps', len(dump_files(d)))


# ---- no runtime ----------------------------------------------------------

def check_no_runtime(dump, path):
    check(not dump.runtimes and dump.header.get('tasks') in ('0', 0, None)
          and dump.note and 'no taskdump runtime' in dump.note,
          '%s: expected runtimes 0 and a note: %r', path, dump.header)


def case_no_runtime(tmp):
    for fmt in ('text', 'json'):
        d = os.path.join(tmp, fmt)
        os.mkdir(d)
        p = Proc([ENV['TD_NORUNTIME']],
                 env={'TASKDUMP_DIR': d, 'TASKDUMP_FORMAT': fmt},
                 name='noruntime-' + fmt)
        p.wait_line(r'^noruntime: pid \d+ ready secure=0 agent_loaded=1 '
                    r'agent_thread=1$')
        for seq in (1, 2, 3):
            path, dump = trigger(p, d, seq)
            check(path.endswith('.txt' if fmt == 'text' else '.json'),
                  'wrong extension: %s', path)
            check_no_runtime(dump, path)
            check_written_line(p, d, path, dump)
            if fmt == 'text':
                with open(path) as f:
                    text = f.read()
                check(text.startswith('taskdump 1\n') and
                      '\nruntimes 0\n' in text and '\nnote ' in text,
                      'text: %r', text)
            else:
                with open(path) as f:
                    doc = json.load(f)
                check(doc['runtimes'] == [] and doc['tasks_total'] == 0,
                      'json: %r', doc)
        wait_progress(p, r'^count rounds=(\d+)$')  # still working
        rc = p.finish()
        check(rc == 0, 'exit %d', rc)
        p.wait_line(r'^noruntime: results: .*: ok$')
    no_runtime_written_rules(tmp)


# The top-level keys of every JSON dump, in the writers' order.
JSON_TOP_KEYS = ['taskdump', 'pid', 'program', 'time', 'pause_ms',
                 'capture_ms', 'symbolize_ms', 'total_ms', 'tasks_total',
                 'note', 'warnings', 'deadlocks', 'task_warnings_found',
                 'task_warnings', 'runtimes']


def json_layout(raw):
    """`raw` (bytes) without the contents of its strings."""
    return re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw)


def no_runtime_written_rules(tmp):
    """The no-runtime dump follows the formats' written rules, also for a
    program whose path holds a quote, a backslash, a tab and a byte that
    is not UTF-8: compact JSON with the runtime writer's keys in its order
    and the documented note, the path escaped in both formats."""
    strange = os.path.join(os.fsencode(tmp), b'no"run\\ti\tme\xff')
    shutil.copy(ENV['TD_NORUNTIME'], strange)
    shown = os.fsdecode(strange)
    for fmt in ('text', 'json'):
        d = os.path.join(tmp, 'strange-' + fmt)
        os.mkdir(d)
        p = Proc([strange], env={'TASKDUMP_DIR': d, 'TASKDUMP_FORMAT': fmt},
                 name='noruntime-strange-' + fmt)
        p.wait_line(r'^noruntime: pid \d+ ready ')
        path, dump = trigger(p, d, 1)
        check_no_runtime(dump, path)
        with open(path, 'rb') as f:
            raw = f.read()
        if fmt == 'json':
            doc = json.loads(raw.decode('utf-8'))  # strict UTF-8
            pairs = json.loads(raw.decode('utf-8'),
                               object_pairs_hook=lambda kv: [k for k, _ in kv])
            check(pairs == JSON_TOP_KEYS, 'json keys %r', pairs)
            check(doc['program'] == os.path.realpath(strange).decode(
                  'utf-8', 'replace'), 'json program %r', doc['program'])
            check(doc['note'].startswith('no taskdump runtime'),
                  'json note %r', doc['note'])
            layout = json_layout(raw)
            check(b' ' not in layout and layout.count(b'\n') == 3 and
                  layout.endswith(b',\n"":[]}\n'),
                  'json not in the writers\' compact layout: %r', raw)
        else:
            want = (b'program ' + os.path.realpath(strange)
                    .replace(b'\t', b'\\t').replace(b'\xff', b'\\xff') +
                    b'\n')
            check(want in raw, 'text program line: %r (want %r)', raw, want)
            check(raw.endswith(b'\nnote no taskdump runtime (libtaskdump) '
                               b'is loaded in this process\n\n'),
                  'text note: %r', raw)
        rc = p.finish()
        check(rc == 0, '%s exited %d', shown, rc)


# ---- dlopen --------------------------------------------------------------

def case_dlopen_late(tmp):
    p = Proc([ENV['TD_DLOPEN'], ENV['TD_LIBTASKDUMP']],
             env={'TASKDUMP_DIR': tmp}, name='dlopen')
    p.wait_line(r'^dlopen: pid \d+ ready$')
    # Before the runtime is loaded: a valid dump that says so.
    path, dump = trigger(p, tmp, 1)
    check_no_runtime(dump, path)
    p.send('load')
    p.wait_line(r'^loaded$')

    def settled():
        n = len(dump_files(tmp, p.pid)) + 1
        path, dump = trigger(p, tmp, n)
        ok = len(dump.by_name('dl-sleeper')) == 2 and \
            all(t.polls > 0 for t in dump.tasks())
        return (path, dump) if ok else None
    path, dump = wait_for(settled, 30, 'a dump of the dlopened runtime',
                          interval=0.05)
    check(len(dump.runtimes) == 1 and dump.runtimes[0].name == 'dlopened'
          and dump.runtimes[0].flavor == 'multi_thread',
          'runtimes %r', dump.runtimes)
    for s in dump.by_name('dl-sleeper'):
        check(len(s.traces) == 1 and s.traces[0].functions ==
              ['dl_sleeper_poll', 'dl_nap_poll', 'td_sleep_poll'] and
              s.traces[0].wait.startswith('sleep'),
              'dl-sleeper trace %r', s.traces)
    w = dump.by_name('dl-waiter')
    check(len(w) == 1 and len(w[0].traces) == 1 and
          w[0].traces[0].functions[0] == 'dl_waiter_poll' and
          w[0].traces[0].wait.startswith('notify'), 'dl-waiter %r', w)
    check(not temp_files(tmp), 'temp files left')
    wait_progress(p, r'^count rounds=(\d+)$')
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)
    p.wait_line(r'^dlopen: results: .*: ok$')


# ---- fork ----------------------------------------------------------------

def case_fork(tmp):
    p = Proc([ENV['TD_APP']], env={'TASKDUMP_DIR': tmp}, name='app')
    p.wait_line(r'^agent_app: pid \d+ ready$')
    # The parent dumps twice first: the child must start at 1 anyway.
    for seq in (1, 2):
        _, dump = trigger(p, tmp, seq)
        app_tasks_ok(dump)
    p.send('fork')
    child = int(p.wait_line(r'^child (\d+)$').group(1))
    check(child != p.pid, 'child pid = parent pid')
    p.wait_line(r'^agent_app: pid %d ready$' % child)
    os.kill(child, signal.SIGUSR1)
    cpath = wait_dump(tmp, child, 1, timeout=20)
    cdump = check_file(cpath, child)
    check(os.path.basename(cpath) == 'taskdump-%d-1.txt' % child,
          'child file %s', cpath)
    names = [r.name for r in cdump.runtimes]
    check('child' in names, 'the child dump lists runtimes %r', names)
    crt = [r for r in cdump.runtimes if r.name == 'child'][0]
    check(len([t for t in crt.tasks if t.name == 'sleeper']) == 3,
          'child runtime tasks %r', [t.name for t in crt.tasks])
    # (The parent's runtime, copied by fork without its threads, is
    # listed too: case fork_inherited_runtime.)
    # The parent: unaffected, next number 3, its own tasks.
    _, dump = trigger(p, tmp, 3)
    app_tasks_ok(dump)
    check(len(dump_files(tmp, child)) == 1 and
          len(dump_files(tmp, p.pid)) == 3,
          'files: %r', os.listdir(tmp))
    # A second child dump.
    os.kill(child, signal.SIGUSR1)
    check_file(wait_dump(tmp, child, 2), child)
    check(not temp_files(tmp), 'temp files left')
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)
    out = p.lines()
    check(not any(x.startswith('child %d failed' % child) for x in out),
          'the child failed: %r', out)
    check(any(re.match(r'^agent_app: results: pid=%d .*: ok$' % child, x)
              for x in out), 'no results line from the child: %r', out)
    p.wait_line(r'^agent_app: results: pid=%d .*: ok$' % p.pid)


def case_fork_inherited_runtime(tmp):
    """A forked child has none of its parent's runtime threads: a dump of
    the child should not wait for them, nor trace the copied tasks."""
    p = Proc([ENV['TD_APP']], env={'TASKDUMP_DIR': tmp}, name='app')
    p.wait_line(r'^agent_app: pid \d+ ready$')
    p.send('fork')
    child = int(p.wait_line(r'^child (\d+)$').group(1))
    p.wait_line(r'^agent_app: pid %d ready$' % child)
    t0 = time.monotonic()
    os.kill(child, signal.SIGUSR1)
    cdump = check_file(wait_dump(tmp, child, 1), child)
    took = time.monotonic() - t0
    inherited = [r for r in cdump.runtimes if r.name == 'app']
    ok, detail = True, ''
    if inherited:
        r = inherited[0]
        ok = bool(r.error) and not r.tasks
        detail = ('the child\'s dump took %.2f s and lists the parent\'s '
                  'runtime "app": workers %r, %d tasks traced, error=%r'
                  % (took, [(w.index, w.state, w.tid) for w in r.workers],
                     r.traced, r.error))
    known_bug('fork_registry', ok, detail)
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)


# ---- unwritable directory ------------------------------------------------

CANNOT_RE = r'^taskdump: cannot write a dump in %s: (.*)$'


def unwritable_one(tmp, target, fix, label, user=None, expect=None):
    p = Proc([ENV['TD_APP']], env={'TASKDUMP_DIR': target}, cwd=tmp,
             user=user, name='app-' + label)
    p.wait_line(r'^agent_app: pid \d+ ready$')
    pid = int(p.wait_line(r'^agent_app: pid (\d+) ready$').group(1))
    os.kill(pid, signal.SIGUSR1)
    m = p.wait_line(CANNOT_RE % re.escape(target), which='err')
    log('%s: %s', label, m.group(0))
    if expect:
        check(re.search(expect, m.group(1)), 'reason %r, expected %r',
              m.group(1), expect)
    time.sleep(0.2 * SCALE)  # a second line would come right away
    errs = [x for x in p.lines('err') if x.startswith('taskdump:')]
    check(len(errs) == 1, 'expected one stderr line, got %r', errs)
    check(p.alive(), 'the program died')
    p.send('count')
    p.wait_line(r'^count handler=0 rounds=\d+ ')
    if os.path.isdir(target):
        check(not os.listdir(target), 'files in %s: %r', target,
              os.listdir(target))
    check(not [n for n in os.listdir(tmp) if 'taskdump' in n],
          'files in the working directory: %r', os.listdir(tmp))
    # Fixed: the next signal writes a dump.
    fix()
    os.kill(pid, signal.SIGUSR1)
    path = wait_for(lambda: dump_files(target, pid) and
                    dump_files(target, pid)[0][1], 20,
                    'a dump after fixing %s' % target)
    dump = check_file(path, pid)
    app_tasks_ok(dump)
    check(not temp_files(target), 'temp files left')
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)


def setpriv_nobody_works():
    """Can we run our programs as nobody (setpriv present, running as
    root, build tree reachable for others)?  None, or why not."""
    if not shutil.which('setpriv'):
        return 'setpriv is not installed'
    if os.geteuid() != 0:
        return 'not running as root'
    try:
        prefix = as_user('nobody')
    except KeyError:
        return 'there is no user nobody'
    r = subprocess.run(prefix + ['test', '-x', ENV['TD_APP'], '-a', '-r',
                                 ENV['TD_AGENT']],
                       capture_output=True)
    if r.returncode != 0:
        return 'nobody cannot run the programs here (%s)' % \
            r.stderr.decode(errors='replace').strip()
    return None


def case_unwritable_dir(tmp):
    # 1. A directory that does not exist yet; fixed by creating it.
    missing = os.path.join(tmp, 'missing', 'dumps')
    unwritable_one(tmp, missing, lambda: os.makedirs(missing), 'missing',
                   expect='No such file or directory')
    # 2. A regular file where the directory should be; fixed by replacing
    # it with a directory.
    work2 = os.path.join(tmp, 'w2')
    os.mkdir(work2)
    afile = os.path.join(work2, 'notadir')
    with open(afile, 'w') as f:
        f.write('x')

    def fix2():
        os.unlink(afile)
        os.mkdir(afile)
    unwritable_one(work2, afile, fix2, 'file', expect='Not a directory')
    # 3. A directory without write permission, for a user that
    # permissions apply to (root ignores them).
    os.chmod(tmp, 0o755)
    work3 = os.path.join(tmp, 'w3')
    os.mkdir(work3)
    os.chmod(work3, 0o777)
    ro = os.path.join(work3, 'readonly')
    os.mkdir(ro, 0o500)
    os.chmod(ro, 0o555)
    why = setpriv_nobody_works()
    if why:
        log('SKIPPED the read-only directory case: %s', why)
        return
    unwritable_one(work3, ro, lambda: os.chmod(ro, 0o777), 'readonly',
                   user='nobody', expect='Permission denied')


# ---- bad environment -----------------------------------------------------

BAD_VALUES = {
    'TASKDUMP_DIR': 'x' * 5000,
    'TASKDUMP_SIGNAL': 'SIGNOTASIGNAL',
    'TASKDUMP_FORMAT': 'xml',
    'TASKDUMP_TIMEOUT_MS': '-5',
    'TASKDUMP_GROUP': 'maybe',
    'TASKDUMP_QUIET': 'perhaps',
}
MORE_BAD = [
    {'TASKDUMP_SIGNAL': 'KILL', 'TASKDUMP_TIMEOUT_MS': '0',
     'TASKDUMP_FORMAT': ''},
    {'TASKDUMP_SIGNAL': '9', 'TASKDUMP_TIMEOUT_MS': '99999999999999999999'},
    {'TASKDUMP_SIGNAL': 'SEGV', 'TASKDUMP_TIMEOUT_MS': '12abc'},
    {'TASKDUMP_SIGNAL': 'rtmin+99', 'TASKDUMP_TIMEOUT_MS': '600001'},
    {'TASKDUMP_SIGNAL': '', 'TASKDUMP_GROUP': '2'},
    {'TASKDUMP_SIGNAL': '0'},
    {'TASKDUMP_SIGNAL': '999'},
    {'TASKDUMP_SIGNAL': 'USR1x'},
    {'TASKDUMP_SIGNAL': '\xe9\x01\n'},
]


def bad_env_one(tmp, values, label):
    # TASKDUMP_DIR garbage means the working directory: run there.
    p = Proc([ENV['TD_APP']], env=values, cwd=tmp, name='app-' + label)
    p.wait_line(r'^agent_app: pid \d+ ready$')
    # The agent complains while loading, before main: let stderr catch up.
    wait_for(lambda: len([x for x in p.lines('err')
                          if x.startswith('taskdump:')]) >= len(values),
             10, 'a line per bad variable')
    bad = [x for x in p.lines('err') if x.startswith('taskdump:')]
    for var, val in values.items():
        mine = [x for x in bad if x.startswith('taskdump: ignoring %s=' % var)]
        check(len(mine) == 1, '%s=%r: expected one line, got %r', var,
              val[:40], mine)
        check(re.match(r'^taskdump: ignoring %s=".*": .+; using .+$' % var,
                       mine[0]), 'unclear line %r', mine[0][:300])
    check(len(bad) == len(values), 'stderr: %r', [x[:120] for x in bad])
    # The defaults: SIGUSR1, text, the working directory, not quiet.
    path, dump = trigger(p, tmp, 1)
    check(path.endswith('.txt'), 'not text: %s', path)
    check(os.path.dirname(path) == tmp, 'not in the working directory')
    app_tasks_ok(dump)
    wait_for(lambda: written_lines(p), 10, 'the stderr line')
    check_written_line(p, tmp, path, dump)
    rc = p.finish()
    check(rc == 0, 'exit %d', rc)


def case_bad_environment(tmp):
    d = os.path.join(tmp, 'all')
    os.mkdir(d)
    bad_env_one(d, BAD_VALUES, 'all')
    for i, values in enumerate(MORE_BAD):
        d = os.path.join(tmp, 'more%d' % i)
        os.mkdir(d)
        bad_env_one(d, values, 'more%d' % i)


# ---- signal names, json ---------------------------------------------------

def case_signal_names(tmp):
    rtmin = signal.SIGRTMIN
    cases = [('USR2', signal.SIGUSR2, 'text'),
             ('SIGUSR2', signal.SIGUSR2, 'json'),
             ('sigrtmin+3', rtmin + 3, 'text'),
             ('RTMIN+3', rtmin + 3, 'json'),
             ('rtmax-2', signal.SIGRTMAX - 2, 'text'),
             (str(int(signal.SIGUSR2)), signal.SIGUSR2, 'text'),
             ('hup', signal.SIGHUP, 'json')]
    for i, (name, sig, fmt) in enumerate(cases):
        d = os.path.join(tmp, 'c%d' % i)
        os.mkdir(d)
        env = {'TASKDUMP_DIR': d, 'TASKDUMP_SIGNAL': name,
               'TASKDUMP_FORMAT': fmt}
        if i % 2:
            p = Proc([ENV['TD_APP'], '--current-thread'], env=env,
                     name='app-' + name)
            p.wait_line(r'^agent_app: pid \d+ ready$')
        else:
            p, _ = start_demo(d, [], env)
        check(not [x for x in p.lines('err') if x.startswith('taskdump:')],
              'stderr: %r', p.lines('err'))
        for seq in (1, 2):
            path, dump = trigger(p, d, seq, sig=sig,
                                 ext='json' if fmt == 'json' else 'txt')
            check(dump.runtimes, 'no runtime in %s', path)
            if fmt == 'json':
                with open(path) as f:
                    doc = json.load(f)
                check(list(doc)[0] == 'taskdump', 'first key %r',
                      list(doc)[0])
        check(p.alive(), '%s killed the program', name)
        rc = p.finish(sig=signal.SIGTERM) if p.name == 'demo' else p.finish()
        check(rc == 0, '%s: exit %d', name, rc)
        log('TASKDUMP_SIGNAL=%s (%d), %s: ok', name, sig, fmt)


# ---- exiting during a dump ------------------------------------------------

def case_exit_during_dump(tmp):
    """The program exits right after a signal, often while the dump is
    being written: the file is then complete or absent, never a partial
    or temporary file, and the exit is clean."""
    runs, written = 30, 0
    for i in range(runs):
        d = os.path.join(tmp, 'run%d' % i)
        os.mkdir(d)
        args = [ENV['TD_APP']] + (['--current-thread'] if i % 2 else [])
        p = Proc(args, env={'TASKDUMP_DIR': d}, name='app%d' % i)
        p.wait_line(r'^agent_app: pid \d+ ready$')
        p.kill(signal.SIGUSR1)
        time.sleep(0.0005 * (i % 10))  # from "at once" to mid-dump
        rc = p.finish()
        check(rc == 0, 'run %d: exit %d', i, rc)
        check(not temp_files(d), 'run %d: temp files left: %r', i,
              os.listdir(d))
        files = dump_files(d)
        check(len(files) <= 1, 'run %d: files %r', i, files)
        for _, path in files:
            check_file(path, p.pid)
            written += 1
        errs = [x for x in p.lines('err') if x.startswith('taskdump:') and
                not x.startswith('taskdump: dump written to ')]
        check(not errs, 'run %d: stderr %r', i, errs)
    log('%d runs, %d dumps written before the exit', runs, written)


# ---- set-user-ID ---------------------------------------------------------

def case_secure_execution(tmp):
    """A set-user-ID run (AT_SECURE): the agent must do nothing.  glibc
    ignores LD_PRELOAD paths with a slash in such runs, so the agent is
    linked into agent_secure (DT_NEEDED, found through its absolute
    RUNPATH) to reach its own AT_SECURE check.  Needs root (to make a
    set-user-ID root copy) and the user nobody (to run it as)."""
    os.chmod(tmp, 0o755)
    why = setpriv_nobody_works()
    if why:
        raise Skip(why)
    exe = os.path.join(tmp, 'agent_secure')
    shutil.copy(ENV['TD_SECURE'], exe)
    os.chown(exe, 0, 0)
    os.chmod(exe, 0o4755)
    # First, as root without set-user-ID: the agent is active.
    p = Proc([exe], env={'TASKDUMP_DIR': tmp}, preload=False,
             name='secure-control')
    p.wait_line(r'^noruntime: pid \d+ ready secure=0 agent_loaded=1 '
                r'agent_thread=1$')
    path, dump = trigger(p, tmp, 1)
    check_no_runtime(dump, path)
    check(p.finish() == 0, 'control run failed')
    # As nobody, the set-user-ID bit makes it a secure run.
    d = os.path.join(tmp, 'd')
    os.mkdir(d, 0o777)
    os.chmod(d, 0o777)
    p = Proc([exe], env={'TASKDUMP_DIR': d}, preload=False, user='nobody',
             name='secure')
    try:
        m = p.wait_line(r'^noruntime: pid \d+ ready secure=(\d+) '
                        r'agent_loaded=(\d) agent_thread=(\d)$')
    except TestFailure as e:
        raise Skip('the set-user-ID program did not start (%s; nosuid '
                   'mount?)' % e)
    if m.group(1) == '0':
        raise Skip('AT_SECURE is 0 in a set-user-ID run here (nosuid '
                   'mount?)')
    check(m.group(2) == '1', 'the agent is not loaded in the secure run')
    check(m.group(3) == '0', 'the agent thread runs in a secure process')
    # The agent installed no handler: SIGUSR1 has its default action.
    p.kill(signal.SIGUSR1)
    rc = p.p.wait(10 * SCALE)
    check(rc == -signal.SIGUSR1, 'exit %r: SIGUSR1 was caught', rc)
    check(not os.listdir(d), 'files: %r', os.listdir(d))
