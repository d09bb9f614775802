"""agentlib.py - what the agent's integration tests share: settings from
the environment, checks and deadlines, known bugs, starting programs under
the agent, and reading their dump files.  See run_agent_tests.py."""
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dumpcheck  # noqa: E402

ENV = {k: os.environ.get(k, '') for k in (
    'TD_AGENT', 'TD_DEMO', 'TD_APP', 'TD_NORUNTIME', 'TD_SECURE',
    'TD_DLOPEN', 'TD_LIBTASKDUMP', 'TD_SANITIZE', 'TD_HOSTILE',
    'TD_APP_TSAN', 'TD_APP_ASAN', 'TD_TOOL')}
# Set only where they could be built.
OPTIONAL_ENV = ('TD_SANITIZE', 'TD_APP_TSAN', 'TD_APP_ASAN', 'TD_TOOL')
SANITIZED = ENV['TD_SANITIZE'] not in ('', 'none')
# Deadlines stretch under sanitizers (slower code, bigger stacks).
SCALE = 3.0 if SANITIZED else 1.0
SKIP = 77


class TestFailure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise TestFailure(msg % args if args else msg)


def log(msg, *args):
    print(msg % args if args else msg, flush=True)


# Bugs the tests found that are not fixed yet: in the runtime (which these
# tests may not edit), or in the agent where a fix needs a design decision
# (setxid).  A check listed here that fails makes its case SKIP with the
# description, after the case's other checks; once the bug is fixed the
# check passes again and its entry should be removed (the log says so).
KNOWN_BUGS = {
    'setxid': 'the agent\'s thread makes glibc abort a program that drops '
              'capabilities with capset() on its main thread only and then '
              'calls setresgid()/setresuid() (setpriv does): glibc runs '
              'set*id on every thread and aborts when the agent\'s thread '
              '(without the capability) fails',
}
KNOWN_FAILED = []

# Sanitizer reports (recoverable UBSan reports only show on stderr) from
# runtime bugs the tests found.  Every case scans every program's stderr at
# its end: an unknown report fails the case, a known one is logged (case
# sanitizer_reports SKIPs with the description while it shows).
SANITIZER_RE = re.compile(r'runtime error:|Sanitizer|^SUMMARY: ')
KNOWN_REPORTS = {
    # 'key': (regex of the report line, description); none at the moment.
    # (Found and since fixed in the runtime: qsort()/memcpy() given NULL
    # with a length of 0 in dump.c and owned.c, commit e8728a9.)
}


KNOWN_BUGS.update({k: v[1] for k, v in KNOWN_REPORTS.items()})


def sanitizer_reports(procs):
    """(known keys seen, unknown report lines) over the programs' stderr."""
    known, unknown = set(), []
    for p in procs:
        for line in p.lines('err'):
            if not SANITIZER_RE.search(line):
                continue
            for key, (rx, _) in KNOWN_REPORTS.items():
                if rx.search(line):
                    known.add(key)
                    break
            else:
                unknown.append('%s: %s' % (p.name, line))
    return known, unknown


def is_sanitizer_line(line):
    return bool(SANITIZER_RE.search(line)) or line.startswith('    #')


def known_bug(key, cond, detail):
    """A check that a known bug breaks: recorded, the case SKIPs at the
    end (after its other checks) instead of failing."""
    if not cond:
        if key not in KNOWN_BUGS:
            raise TestFailure(detail)
        log('KNOWN BUG (%s): %s: %s', key, KNOWN_BUGS[key], detail)
        KNOWN_FAILED.append(key)
    elif key in KNOWN_BUGS:
        log('known bug %r no longer shows: remove it from KNOWN_BUGS', key)


def wait_for(pred, timeout, what, interval=0.01):
    """Poll pred() until it returns something true; fail after timeout."""
    end = time.monotonic() + timeout * SCALE
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise TestFailure('timed out after %.1f s waiting for %s'
                              % (timeout * SCALE, what))
        time.sleep(interval)


# ---- preloading ----------------------------------------------------------

_asan_lib = None


def asan_preload():
    """The libasan the agent needs, when it was built with ASan: it must
    come before the agent in LD_PRELOAD.  None otherwise."""
    global _asan_lib
    if _asan_lib is None:
        _asan_lib = ''
        out = subprocess.run(['ldd', ENV['TD_AGENT']], capture_output=True,
                             text=True).stdout
        m = re.search(r'(libasan\.so[.\d]*) => (\S+)', out)
        if m:
            _asan_lib = m.group(2)
    return _asan_lib or None


def preload_value():
    asan = asan_preload()
    return (asan + ' ' if asan else '') + ENV['TD_AGENT']


def base_env(extra=None, preload=True):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('TASKDUMP_') and k != 'LD_PRELOAD'}
    if preload:
        env['LD_PRELOAD'] = preload_value()
    env.update(extra or {})
    return env


# ---- processes -----------------------------------------------------------

def as_user(user):
    """A command prefix that runs the rest as `user` (and its group)."""
    import pwd
    pw = pwd.getpwnam(user)
    return ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid,
            '--clear-groups', '--']


PROCS = []


class Proc:
    """A program under test, in its own process group, with stdin a pipe
    (commands) and stdout/stderr collected line by line."""

    def __init__(self, argv, env=None, cwd=None, preload=True, user=None,
                 name=None):
        self.name = name or os.path.basename(argv[0])
        cmd = list(argv)
        penv = base_env(env, preload)
        if user:
            # Preload into the program, not into setpriv: see
            # case_setxid_capabilities for what the agent does to setpriv.
            pre = penv.pop('LD_PRELOAD', None)
            cmd = as_user(user) + (['env', 'LD_PRELOAD=' + pre] if pre
                                   else []) + cmd
        self.p = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=cwd, env=penv,
            start_new_session=True)
        PROCS.append(self)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.readers = [
            threading.Thread(target=self._read, args=(self.p.stdout,
                                                      self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.p.stderr,
                                                      self.err), daemon=True)]
        for t in self.readers:
            t.start()

    def _read(self, stream, into):
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            with self.lock:
                into.append(line)

    @property
    def pid(self):
        return self.p.pid

    def lines(self, which='out'):
        with self.lock:
            return list(self.out if which == 'out' else self.err)

    def wait_line(self, pattern, which='out', timeout=30, after=0):
        """The first line (from index `after`) matching the regex."""
        rx = re.compile(pattern)

        def find():
            for line in self.lines(which)[after:]:
                m = rx.search(line)
                if m:
                    return m
            if self.p.poll() is not None:
                time.sleep(0.1)  # let the readers catch up
                for line in self.lines(which)[after:]:
                    m = rx.search(line)
                    if m:
                        return m
                raise TestFailure('%s exited (%s) before printing %r'
                                  % (self.name, self.p.returncode, pattern))
            return None
        return wait_for(find, timeout, '%s to print %r' % (self.name,
                                                         pattern))

    def send(self, cmd):
        self.p.stdin.write((cmd + '\n').encode())
        self.p.stdin.flush()

    def kill(self, sig):
        os.kill(self.p.pid, sig)

    def alive(self):
        return self.p.poll() is None

    def finish(self, timeout=60, quit_cmd='quit', sig=None):
        """Ask the program to stop (a command or a signal), wait for it;
        returns its exit status."""
        try:
            if sig is not None:
                self.kill(sig)
            elif quit_cmd:
                self.send(quit_cmd)
            self.p.stdin.close()
        except (BrokenPipeError, ProcessLookupError, OSError):
            pass
        try:
            rc = self.p.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            raise TestFailure('%s did not exit within %.0f s'
                              % (self.name, timeout * SCALE))
        for t in self.readers:
            t.join(10)
        return rc

    def cleanup(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def transcript(self):
        return ('--- %s (pid %d) stdout:\n%s\n--- stderr:\n%s\n'
                % (self.name, self.p.pid, '\n'.join(self.lines('out')),
                   '\n'.join(self.lines('err'))))


def wait_progress(proc, pattern, timeout=20):
    """Ask `proc` for its "count" line until the counter that `pattern`
    (a regex with one group) captures exceeds its first value."""
    rx = re.compile(pattern)
    first = []

    def advanced():
        proc.send('count')
        values = [int(m.group(1)) for m in map(rx.match, proc.lines()) if m]
        if values and not first:
            first.append(values[0])
        return bool(values) and values[-1] > first[0]
    wait_for(advanced, timeout, '%s to make progress' % proc.name,
             interval=0.05)


# ---- dump files ----------------------------------------------------------

DUMP_RE = re.compile(r'^taskdump-(\d+)-(\d+)\.(txt|json)$')
TEMP_RE = re.compile(r'^\.taskdump-\d+-\d+\.tmp$')


def dump_files(d, pid=None):
    """[(seq, path)] of the finished dumps of `pid` (any pid: None)."""
    out = []
    for name in os.listdir(d):
        m = DUMP_RE.match(name)
        if m and (pid is None or int(m.group(1)) == pid):
            out.append((int(m.group(2)), os.path.join(d, name)))
    return sorted(out)


def temp_files(d):
    return [n for n in os.listdir(d) if TEMP_RE.match(n)]


def wait_dump(d, pid, seq, timeout=20, ext=None):
    """Wait for taskdump-<pid>-<seq>.<ext> (ext: txt or json)."""
    exts = [ext] if ext else ['txt', 'json']

    def find():
        for e in exts:
            p = os.path.join(d, 'taskdump-%d-%d.%s' % (pid, seq, e))
            if os.path.exists(p):
                return p
        return None
    return wait_for(find, timeout, 'dump %d of pid %d in %s' % (seq, pid, d))


def check_file(path, pid):
    """Mode 0600, a regular file, parses; returns the Dump."""
    st = os.lstat(path)
    check(stat.S_ISREG(st.st_mode), '%s is not a regular file', path)
    check(stat.S_IMODE(st.st_mode) == 0o600, '%s has mode %o, not 0600',
          path, stat.S_IMODE(st.st_mode))
    try:
        dump = dumpcheck.parse_file(path)
    except dumpcheck.FormatError as e:
        raise TestFailure('%s: %s' % (path, e))
    check(dump.pid == pid, '%s: pid %d, expected %d', path, dump.pid, pid)
    return dump


WRITTEN_RE = re.compile(r'^taskdump: dump written to (.*)/(taskdump-\d+-\d+'
                        r'\.(?:txt|json)): (\d+) runtimes?, (\d+) tasks?, '
                        r'paused (\d+\.\d{3}) ms, total (\d+\.\d{3}) ms$')
NORUNTIME_RE = re.compile(r'^taskdump: dump written to (.*)/(taskdump-\d+-\d+'
                          r'\.(?:txt|json)): no taskdump runtime in this '
                          r'process$')


def written_lines(proc):
    return [line for line in proc.lines('err')
            if line.startswith('taskdump: dump written to ')]


def check_written_line(proc, d, path, dump, after=0):
    """The one stderr line naming `path` says the right things."""
    name = os.path.basename(path)

    def mine():
        return [line for line in written_lines(proc)[after:]
                if ('/' + name + ':') in line]
    # The line follows the rename: give it a moment.
    try:
        wait_for(mine, 10, 'the stderr line for ' + name)
    except TestFailure:
        pass
    lines = mine()
    check(len(lines) == 1, 'expected one stderr line for %s, got %r', name,
          lines)
    m = WRITTEN_RE.match(lines[0]) or NORUNTIME_RE.match(lines[0])
    check(m, 'bad stderr line %r', lines[0])
    check(os.path.realpath(m.group(1)) == os.path.realpath(d),
          'stderr names directory %r, not %r', m.group(1), d)
    if m.re is WRITTEN_RE:
        check(int(m.group(3)) == len(dump.runtimes) and
              int(m.group(4)) == len(dump.tasks()),
              'stderr line %r disagrees with the file', lines[0])
        # The times are the file's own (total: from the signal to the
        # data being ready, as the header says).
        for group, key in ((5, 'pause_ms'), (6, 'total_ms')):
            check(m.group(group) == '%.3f' % float(dump.header[key]),
                  'stderr line %r: %s %s, the file says %s', lines[0], key,
                  m.group(group), dump.header[key])
    else:
        check(not dump.runtimes, 'no-runtime line for a dump with runtimes')


def agent_tid(pid):
    """The tid of the process's agent thread (named taskdump-agent)."""
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                if f.read() == 'taskdump-agent\n':
                    return int(tid)
        except OSError:
            pass
    return None


def tgkill(pid, tid, sig):
    """tgkill(2), as `taskdump dump` sends its requests."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    # (syscall() takes longs: ints would leave the registers' upper
    # halves undefined.)
    args = [ctypes.c_long(v) for v in (234, pid, tid, int(sig))]
    if libc.syscall(*args) != 0:  # 234: SYS_tgkill on x86-64
        raise OSError(ctypes.get_errno(), 'tgkill')


def trigger(proc, d, seq, sig=signal.SIGUSR1, timeout=20, ext=None,
            to_agent=False):
    """Send the signal (to the process, or with `to_agent` to its agent
    thread, as taskdump dump does), wait for dump `seq`, check and return
    it."""
    if to_agent:
        tid = wait_for(lambda: agent_tid(proc.pid), 10, 'the agent thread')
        tgkill(proc.pid, tid, sig)
    else:
        proc.kill(sig)
    path = wait_dump(d, proc.pid, seq, timeout, ext)
    return path, check_file(path, proc.pid)


def subseq(needle, hay):
    """Are the items of `needle` in `hay`, in order?"""
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)
