"""dumpcheck.py - strict readers for taskdump dump files (README.md (dump file formats)).

parse_text(data) and parse_json(data) check a whole file against the
format and return the same normalized structure, so that tests can check
the facts without caring about the format:

    Dump(pid, program, header, note, runtimes=[Runtime(...)])
    Runtime(id, name, flavor, error, workers=[Worker], tasks=[Task])
    Worker(index, state, tid, task, busy_ms, stack=[function names])
    Task(id, name, state, block_on, polls, traced, not_traced,
         traces=[Trace(frames=[Frame], wait)])

Both raise FormatError with the line (or the JSON path) at fault.
"""
import json
import re
from dataclasses import dataclass, field


class FormatError(Exception):
    pass


@dataclass
class Frame:
    function: str
    file: str = None
    line: int = 0
    inlined: bool = False


@dataclass
class Trace:
    frames: list
    wait: str

    @property
    def functions(self):
        return [f.function for f in self.frames]

    @property
    def leaf(self):
        return self.frames[-1] if self.frames else None


@dataclass
class Task:
    id: int
    name: str
    state: str
    block_on: bool
    polls: int
    traced: bool
    not_traced: str = None
    worker: int = None
    traces: list = field(default_factory=list)
    # the wait-for graph: [(task id or None for nobody, why)]
    waits_for: list = field(default_factory=list)
    # locks held: [(kind, object, held_ms, waiters, permits, others)]
    # (permits and others None for a mutex)
    holds: list = field(default_factory=list)
    # counters (README "Task counters"): {name: value}; a text dump has
    # only those it prints (busy_ms, slowest_poll_ms, woken_ms,
    # wait_worst_ms, wakers), a JSON dump all of them
    counters: dict = field(default_factory=dict)


@dataclass
class Worker:
    index: int
    state: str
    tid: int = None
    task: int = None
    busy_ms: int = None
    stack: list = field(default_factory=list)
    stack_error: str = None
    syscall: str = None      # the system call a busy worker is blocked in


@dataclass
class Runtime:
    id: int
    name: str
    flavor: str
    error: str
    tasks_total: int
    traced: int
    workers: list = field(default_factory=list)
    tasks: list = field(default_factory=list)


@dataclass
class Dump:
    pid: int
    program: str
    header: dict
    note: str
    runtimes: list
    # each deadlock: its members in cycle order, [(task id, waits_for)]
    # where waits_for is (task id, why)
    deadlocks: list = field(default_factory=list)
    # task warnings, most severe first:
    # [(severity, kind, runtime id, task id, evidence)]
    warnings: list = field(default_factory=list)
    warnings_found: int = 0

    def tasks(self):
        return [t for r in self.runtimes for t in r.tasks]

    def by_name(self, name):
        return [t for t in self.tasks() if t.name == name]

    def task(self, tid):
        for t in self.tasks():
            if t.id == tid and not t.block_on:
                return t
        return None


# ---- text ---------------------------------------------------------------

MS = r'\d+\.\d{3}'
QUOTED = r'"(?:[^"\\]|\\.)*"'
BARE = r'\S+'
# (key, value pattern, optional): in this order.  `mode` and `span_ms`
# come with every dump of a runtime (not the agent's no-runtime one);
# `unconfirmed` only when findings were dropped.
HEADER_KEYS = [
    ('pid', r'\d+', False), ('program', r'.*', False),
    ('time', r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z', False),
    ('mode', r'incremental|stop', True),
    ('pause_ms', MS, False), ('span_ms', MS, True),
    ('capture_ms', MS, False), ('symbolize_ms', MS, False),
    ('total_ms', MS, False),
    ('unconfirmed', r'deadlocks=\d+ lost_wakeups=\d+', True),
    ('runtimes', r'\d+', False), ('tasks', r'\d+', False),
]
RUNTIME_RE = re.compile(
    r'runtime (\d+) name=(' + QUOTED + r') flavor=(multi_thread|current_thread)'
    r' workers=(\d+) tasks=(\d+) traced=(\d+) pause_ms=(' + MS + r')'
    r'(?: error=(' + QUOTED + r'))?$')
WORKER_RE = re.compile(
    r'worker (\d+) state=(paused|busy|idle|running)(?: tid=(\d+))?'
    r'(?: task=(\d+) busy_ms=(\d+))? queued=(\d+)(?: held_ms=' + MS + r')?'
    r'(?: syscall=(' + r'[a-z_0-9]+' + r')(?: syscall_fd=(\d+))?'
    r'(?: syscall_fd_target=(' + QUOTED + r'))?'
    r'(?: syscall_timeout_ms=(\d+))?)?'
    r'(?: stack_note=(' + QUOTED + r'))?$')
TASK_RE = re.compile(
    r'task (\d+)(?: name=(' + QUOTED + r'))?( block_on=1)?'
    r' state=(idle|notified|running|cancelled|complete)'
    r'(?: queue=(lifo|local|inject|unknown))?(?: queue_worker=(\d+))?'
    r' polls=(\d+) idle_ms=(\d+)(?: worker=(\d+))?'
    r'((?: busy_ms=\d+)?(?: slowest_poll_ms=\d+)?'
    r'(?: woken_ms=\d+)?(?: wait_worst_ms=\d+)?'
    r'(?: wakers=\d+)?)'
    r'(?: spawned=(' + BARE + r'))?(?: in=(' + BARE + r'))?'
    r'(?: type=(' + QUOTED + r'))?'
    r'(?: waits_for=(' + QUOTED + r'))?(?: holds=(' + QUOTED + r'))?$')
DEADLOCK_RE = re.compile(
    r'(\d+) task=(\d+)(?: name=(' + QUOTED + r'))?'
    r'(?: holds=(' + QUOTED + r'))? waits_for=(' + QUOTED + r')$')
WARNING_KINDS = {'lost-wakeup': 'error', 'busy-loop': 'warning',
                 'long-poll': 'warning', 'starved': 'warning',
                 'never-polled': 'warning', 'long-wait': 'info'}
TASK_WARNING_RE = re.compile(
    r'(error|warning|info) ([a-z-]+) runtime=(\d+) task=(\d+)'
    r'(?: name=(' + QUOTED + r'))? evidence=(' + QUOTED + r')$')
EDGE_RE = re.compile(r'(?:task (\d+)|nobody): (.+)$')
HELD_RE = re.compile(r'([a-z_]+) (0x[0-9a-f]+)(?: (\d+) permits?)? held (\d+) ms, '
                     r'(\d+) waiting(?:, (\d+) more held by others)?$')
IDENT = r'[A-Za-z_][A-Za-z0-9_.$]*'
FUNC = r'(?:' + IDENT + r'|\S+\+0x[0-9a-f]+|0x[0-9a-f]+)'
FRAME_RE = re.compile(
    r'(' + FUNC + r')(?: at (.+):(\d+)| in (\S+)\+0x([0-9a-f]+))?'
    r'( \[inlined\])?(?: \[waiting: ([^\]]*)\])?$')
NODE_RE = re.compile(r'^((?:│  |   )*)(╼|├╼|└╼) (.*)$')


def _edges(L, text):
    out = []
    for e in text.split('; '):
        m = EDGE_RE.match(e)
        if not m:
            L.fail('bad waits_for entry %r' % e)
        out.append((int(m.group(1)) if m.group(1) else None, m.group(2)))
    return out


def _helds(L, text):
    out = []
    for e in text.split('; '):
        m = HELD_RE.match(e)
        if not m:
            L.fail('bad holds entry %r' % e)
        permits = int(m.group(3)) if m.group(3) else None
        if m.group(6) and permits is None:
            L.fail('holds entry %r: others without permits' % e)
        if permits is not None and (m.group(1) != 'semaphore' or
                                    permits == 0):
            L.fail('holds entry %r: permits of a %s' % (e, m.group(1)))
        # (kind, object, held_ms, waiters, permits, others): a semaphore
        # without "more held by others" has 0 others, a mutex None.
        out.append((m.group(1), m.group(2), int(m.group(4)),
                    int(m.group(5)), permits,
                    int(m.group(6) or 0) if permits is not None else None))
    return out


SEVERITY_ORDER = ['lost-wakeup', 'busy-loop', 'long-poll', 'starved',
                  'never-polled', 'long-wait']


def check_warnings(dump):
    """Each warning names a task of its runtime, most severe kinds
    first."""
    order = [SEVERITY_ORDER.index(w[1]) for w in dump.warnings]
    if order != sorted(order):
        raise FormatError('task warnings not in order of severity')
    for sev, kind, rid, tid, evidence in dump.warnings:
        rts = [r for r in dump.runtimes if r.id == rid]
        if not rts or not any(t.id == tid and not t.block_on
                              for t in rts[0].tasks):
            raise FormatError('task warning for task %d of runtime %d: '
                              'no such task' % (tid, rid))
        if not evidence:
            raise FormatError('task warning without evidence')


def check_deadlocks(dump):
    """Each deadlock is a cycle: a member waits for the next one, every
    member is a task of the dump with that edge and those locks."""
    for k, members in enumerate(dump.deadlocks):
        if not members:
            raise FormatError('deadlock %d has no members' % (k + 1))
        for i, (tid, (to, why)) in enumerate(members):
            nxt = members[(i + 1) % len(members)][0]
            if to != nxt:
                raise FormatError('deadlock %d: task %d waits for %r, not '
                                  'the next member %d' % (k + 1, tid, to,
                                                          nxt))
            t = dump.task(tid)
            if t is None:
                raise FormatError('deadlock %d: no task %d' % (k + 1, tid))
            if (to, why) not in t.waits_for:
                raise FormatError('deadlock %d: task %d has no edge %r'
                                  % (k + 1, tid, (to, why)))


def unquote(s):
    assert s[0] == '"' and s[-1] == '"'
    return re.sub(r'\\(x[0-9a-fA-F]{2}|.)',
                  lambda m: {'n': '\n', 't': '\t'}.get(m.group(1),
                  chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == 'x'
                  and len(m.group(1)) == 3 else m.group(1)), s[1:-1])


class _Lines:
    def __init__(self, text):
        self.lines = text.split('\n')
        # A complete file ends in "\n": the split leaves one empty string.
        if self.lines[-1] != '':
            raise FormatError('the file does not end in a newline '
                              '(partial write?)')
        self.lines.pop()
        self.i = 0

    def peek(self):
        return self.lines[self.i] if self.i < len(self.lines) else None

    def next(self):
        line = self.peek()
        if line is None:
            raise FormatError('unexpected end of file after line %d' % self.i)
        self.i += 1
        return line

    def fail(self, what):
        line = self.lines[self.i - 1] if self.i else ''
        raise FormatError('line %d: %s: %r' % (self.i, what, line))


def _parse_frame(L, text):
    m = FRAME_RE.match(text)
    if not m:
        L.fail('bad frame')
    func, file, line, module, off, inl, wait = m.groups()
    return Frame(func, file, int(line) if line else 0, bool(inl)), wait


def _parse_tree(L):
    """The tree lines after the task lines; returns the traces (root to
    each trace end), checking every prefix and marker."""
    nodes = []  # [depth, prefix, marker, frame, wait, children, parent]
    while L.peek():
        line = L.next()
        m = NODE_RE.match(line)
        if not m:
            L.fail('not a tree line')
        prefix, marker, rest = m.groups()
        # Depth: characters before the marker / 3 (0 for a root).
        depth = len(prefix) // 3
        if marker == '╼' and prefix:
            L.fail('a root marker with a prefix')
        if marker != '╼' and not prefix:
            L.fail('a child marker without a prefix')
        if not nodes and depth != 0:
            L.fail('the tree does not start with a root')
        if nodes and depth > nodes[-1][0] + 1:
            L.fail('a node deeper than its parent + 1')
        parent = None
        if depth > 0:
            parent = next(n for n in reversed(nodes) if n[0] == depth - 1)
        if rest == '... (truncated)':
            if depth != 0:
                L.fail('a truncated marker below the root')
            frame, wait = Frame('... (truncated)'), None
        elif rest.startswith('(no frames) [waiting: ') and rest.endswith(']'):
            if depth != 0:
                L.fail('(no frames) below the root')
            frame, wait = None, rest[len('(no frames) [waiting: '):-1]
        else:
            frame, wait = _parse_frame(L, rest)
        node = [depth, prefix, marker, frame, wait, [], parent, L.i]
        if parent:
            parent[5].append(node)
        nodes.append(node)
    if not nodes:
        return []
    # Recompute every prefix and marker from the tree's shape.
    for n in nodes:
        if n[0] == 0:
            continue
        par = n[6]
        sibs = par[5]
        want_marker = '└╼' if sibs[-1] is n else '├╼'
        if n[2] != want_marker:
            raise FormatError('line %d: marker %s, expected %s'
                              % (n[7], n[2], want_marker))
        # The parent's prefix plus "│  " when the parent has a later
        # sibling, "   " when it is a root or the last child.
        if par[0] == 0:
            want = '   '
        else:
            gp_sibs = par[6][5]
            want = par[1] + ('   ' if gp_sibs[-1] is par else '│  ')
        if n[1] != want:
            raise FormatError('line %d: prefix %r, expected %r'
                              % (n[7], n[1], want))
    traces = []

    def walk(n, path):
        path = path + ([n[3]] if n[3] is not None and
                       n[3].function != '... (truncated)' else [])
        if n[4] is not None:
            traces.append(Trace(path, n[4]))
        elif not n[5]:
            raise FormatError('line %d: a leaf without [waiting: ...]'
                              % n[7])
        if n[4] is not None and n[5] and n[0] == 0 and n[3] is None:
            raise FormatError('line %d: (no frames) with children' % n[7])
        for c in n[5]:
            walk(c, path)
    for n in nodes:
        if n[0] == 0:
            walk(n, [])
    return traces


def _parse_worker_stack(L, w):
    hdr = '  native stack of worker %d' % w.index
    line = L.peek()
    if line is None or not line.startswith(hdr):
        if w.state == 'busy':
            L.fail('a busy worker without its native stack')
        return
    L.next()
    if line.startswith(hdr + ' unavailable: '):
        w.stack_error = line[len(hdr + ' unavailable: '):]
        return
    if line != hdr + ':':
        L.fail('bad native stack header')
    while L.peek() is not None and L.peek().startswith('  ') and \
            not L.peek().startswith('  native stack'):
        frame, wait = _parse_frame(L, L.next()[2:])
        if wait is not None:
            L.fail('a native frame with a wait')
        w.stack.append(frame.function)
    if not w.stack:
        L.fail('an empty native stack')


def _parse_runtime(L):
    m = RUNTIME_RE.match(L.next())
    if not m:
        L.fail('bad runtime line')
    rid, name, flavor, nworkers, ntasks, ntraced, _, err = m.groups()
    rt = Runtime(int(rid), unquote(name), flavor,
                 unquote(err) if err else None, int(ntasks), int(ntraced))
    for i in range(int(nworkers)):
        wm = WORKER_RE.match(L.next())
        if not wm:
            L.fail('bad worker line')
        idx, state, tid, task, busy, _, sysc = wm.groups()[:7]
        if int(idx) != i:
            L.fail('worker index out of order')
        if (state == 'busy') != (task is not None):
            L.fail('task=/busy_ms= on a worker that is not busy, or missing')
        if sysc is not None and state != 'busy':
            L.fail('syscall= on a worker that is not busy')
        w = Worker(i, state, int(tid) if tid else None,
                   int(task) if task is not None else None,
                   int(busy) if busy is not None else None, syscall=sysc)
        _parse_worker_stack(L, w)
        rt.workers.append(w)
    if L.next() != '':
        L.fail('no blank line after the workers')
    while L.peek() is not None and not L.peek().startswith('runtime '):
        group = []
        while L.peek() is not None and L.peek().startswith('task '):
            tm = TASK_RE.match(L.next())
            if not tm:
                L.fail('bad task line')
            (tid, tname, bo, state, queue, qworker, polls, _, worker,
             counters, _, _, _, wfor, holds) = tm.groups()
            counters = {k: int(v) for k, v in
                        (c.split('=') for c in counters.split())}
            if ('wakers' in counters) != (state == 'idle' and not bo):
                L.fail('wakers= on a task that is not idle, or missing')
            if ('woken_ms' in counters) != (state == 'notified' and
                                            not bo):
                L.fail('woken_ms= on a task that is not notified, or '
                       'missing')
            if (qworker is not None) != (queue in ('lifo', 'local')):
                L.fail('queue_worker= without lifo/local, or missing')
            if (queue is not None) != (state == 'notified') and \
                    queue is not None:
                L.fail('queue= on a task that is not notified')
            group.append(Task(int(tid), unquote(tname) if tname else None,
                              state, bool(bo), int(polls), True,
                              worker=int(worker) if worker else None,
                              waits_for=_edges(L, unquote(wfor))
                              if wfor else [],
                              holds=_helds(L, unquote(holds))
                              if holds else [], counters=counters))
        if not group:
            L.fail('expected a task line')
        nt = L.peek()
        if nt is not None and nt.startswith('not traced: '):
            if len(group) != 1:
                L.fail('a group of tasks that were not traced')
            L.next()
            group[0].traced = False
            group[0].not_traced = nt[len('not traced: '):]
            traces = []
        else:
            traces = _parse_tree(L)
        if L.next() != '':
            L.fail('no blank line after a task entry')
        for t in group:
            t.traces = traces
        rt.tasks.extend(group)
    if rt.error and rt.tasks:
        raise FormatError('runtime %d: tasks listed with an error' % rt.id)
    if len(rt.tasks) != rt.tasks_total and not rt.error:
        raise FormatError('runtime %d: tasks=%d but %d entries'
                          % (rt.id, rt.tasks_total, len(rt.tasks)))
    traced = sum(1 for t in rt.tasks if t.traced)
    if traced != rt.traced:
        raise FormatError('runtime %d: traced=%d but %d traced entries'
                          % (rt.id, rt.traced, traced))
    return rt


def parse_text(data):
    if isinstance(data, bytes):
        try:
            data = data.decode('utf-8')
        except UnicodeDecodeError as e:
            raise FormatError('not UTF-8: %s' % e)
    L = _Lines(data)
    if L.next() != 'taskdump 1':
        L.fail('the first line is not "taskdump 1"')
    header = {}
    for key, pat, optional in HEADER_KEYS:
        line = L.peek() if optional else L.next()
        m = re.match(re.escape(key) + ' (' + pat + ')$', line or '')
        if optional:
            if m:
                L.next()
                header[key] = m.group(1)
            elif (line or '').startswith(key + ' '):
                L.next()
                L.fail('bad header key %s' % key)
            continue
        if not m:
            L.fail('expected the header key %s' % key)
        header[key] = m.group(1)
    deadlocks = []
    warnings = []
    while L.peek():  # later keys (e.g. note): "key value"
        line = L.next()
        if not re.match(r'[a-z_]+ ', line):
            L.fail('bad header line')
        k, v = line.split(' ', 1)
        if k == 'task_warning':
            m = TASK_WARNING_RE.match(v)
            if not m or WARNING_KINDS.get(m.group(2)) != m.group(1):
                L.fail('bad task_warning line')
            warnings.append((m.group(1), m.group(2), int(m.group(3)),
                             int(m.group(4)), unquote(m.group(6))))
            continue
        if k == 'deadlock':
            m = DEADLOCK_RE.match(v)
            if not m or int(m.group(1)) not in (len(deadlocks),
                                                 len(deadlocks) + 1):
                L.fail('bad deadlock line')
            if int(m.group(1)) > len(deadlocks):
                deadlocks.append([])
            deadlocks[-1].append((int(m.group(2)),
                                  _edges(L, unquote(m.group(5)))[0]))
            continue
        header[k] = v
    if int(header.get('deadlocks', '0')) != len(deadlocks):
        L.fail('the deadlocks count does not match the deadlock lines')
    tw = header.get('task_warnings', '0').split(' ')
    found = int(tw[0])
    listed = int(tw[1][len('listed='):]) if len(tw) > 1 else found
    if listed != len(warnings) or listed > found:
        L.fail('the task_warnings count does not match its lines')
    if L.next() != '':
        L.fail('no blank line after the header')
    runtimes = []
    while L.peek() is not None:
        runtimes.append(_parse_runtime(L))
    if len(runtimes) != int(header['runtimes']):
        raise FormatError('header says %s runtimes, file has %d'
                          % (header['runtimes'], len(runtimes)))
    ntasks = sum(len(r.tasks) for r in runtimes)
    if ntasks != int(header['tasks']):
        raise FormatError('header says %s tasks, file has %d'
                          % (header['tasks'], ntasks))
    dump = Dump(int(header['pid']), header['program'], header,
                header.get('note'), runtimes, deadlocks, warnings, found)
    check_deadlocks(dump)
    check_warnings(dump)
    return dump


# ---- JSON ---------------------------------------------------------------

def _req(obj, path, key, types):
    if not isinstance(obj, dict) or key not in obj:
        raise FormatError('%s: missing key %r' % (path, key))
    v = obj[key]
    if not isinstance(v, types) or (isinstance(v, bool) and
                                    bool not in _tuple(types)):
        raise FormatError('%s.%s: %r has the wrong type' % (path, key, v))
    return v


def _tuple(t):
    return t if isinstance(t, tuple) else (t,)


NUM = (int, float)
NONE = type(None)


def _frame(obj, path):
    f = Frame(_req(obj, path, 'function', str),
              _req(obj, path, 'file', (str, NONE)),
              _req(obj, path, 'line', (int, NONE)) or 0,
              _req(obj, path, 'inlined', bool))
    _req(obj, path, 'module', (str, NONE))
    _req(obj, path, 'offset', (str, NONE))
    ip = _req(obj, path, 'ip', str)
    if not re.match(r'0x[0-9a-f]+$', ip):
        raise FormatError('%s.ip: %r' % (path, ip))
    return f


COUNTERS = ('busy_ms', 'slowest_poll_ms', 'wakes', 'woken_ms', 'wait_ms', 'wait_worst_ms', 'wakers')


def _json_task(t, path):
    for k, ty in [('id', int), ('name', (str, NONE)), ('block_on', bool),
                  ('state', str), ('queue', (str, NONE)),
                  ('queue_worker', (int, NONE)), ('polls', int),
                  ('idle_ms', NUM), ('worker', (int, NONE)),
                  ('spawned', (dict, NONE)), ('traced', bool),
                  ('not_traced', (str, NONE)), ('traces', list)]:
        _req(t, path, k, ty)
    if t['state'] not in ('idle', 'notified', 'running', 'cancelled',
                          'complete'):
        raise FormatError('%s.state: %r' % (path, t['state']))
    task = Task(t['id'], t['name'], t['state'], t['block_on'], t['polls'],
                t['traced'], t['not_traced'], t['worker'])
    for k in COUNTERS:
        v = _req(t, path, k, (int, NONE))
        if (v is None) != (t['block_on'] or
                           (k == 'wakers' and t['state'] != 'idle')):
            raise FormatError('%s.%s: %r' % (path, k, v))
        if v is not None:
            task.counters[k] = v
    if not t['traced'] and t['traces']:
        raise FormatError('%s: traces of a task that was not traced' % path)
    for j, tr in enumerate(t['traces']):
        tp = '%s.traces[%d]' % (path, j)
        w = _req(tr, tp, 'wait', dict)
        for k in ('kind', 'text', 'object', 'deadline_ms', 'task_id', 'fd',
                  'events', 'count', 'value', 'label'):
            _req(w, tp + '.wait', k, object)
        _req(tr, tp, 'truncated', bool)
        frames = [_frame(f, '%s.frames[%d]' % (tp, k))
                  for k, f in enumerate(_req(tr, tp, 'frames', list))]
        task.traces.append(Trace(frames, _req(w, tp + '.wait', 'text', str)))
    for j, e in enumerate(_req(t, path, 'waits_for', list)):
        ep = '%s.waits_for[%d]' % (path, j)
        task.waits_for.append((_req(e, ep, 'task', (int, NONE)),
                               _req(e, ep, 'why', str)))
    for j, h in enumerate(_req(t, path, 'holds', list)):
        hp = '%s.holds[%d]' % (path, j)
        task.holds.append((_req(h, hp, 'kind', str),
                           _req(h, hp, 'object', str),
                           _req(h, hp, 'held_ms', int),
                           _req(h, hp, 'waiters', int),
                           _req(h, hp, 'permits', (int, NONE)),
                           _req(h, hp, 'others', (int, NONE))))
    return task


def parse_json(data):
    if isinstance(data, bytes):
        try:
            data = data.decode('utf-8')
        except UnicodeDecodeError as e:
            raise FormatError('not UTF-8: %s' % e)
    try:
        pairs = json.loads(data, object_pairs_hook=lambda p: p)
        d = json.loads(data)
    except ValueError as e:
        raise FormatError('not JSON: %s' % e)
    if not isinstance(d, dict) or not pairs or pairs[0][0] != 'taskdump':
        raise FormatError('"taskdump" is not the first key')
    if d['taskdump'] != 1:
        raise FormatError('format version %r' % d['taskdump'])
    for k, ty in [('pid', int), ('program', str), ('time', str),
                  ('pause_ms', NUM), ('capture_ms', NUM),
                  ('symbolize_ms', NUM), ('total_ms', NUM),
                  ('tasks_total', int), ('warnings', list),
                  ('runtimes', list)]:
        _req(d, '$', k, ty)
    if d.get('note') is None:  # a runtime's dump, not the agent's note
        for k, ty in [('mode', str), ('span_ms', NUM),
                      ('unconfirmed_deadlocks', int),
                      ('unconfirmed_lost_wakeups', int)]:
            _req(d, '$', k, ty)
        if d['mode'] not in ('incremental', 'stop'):
            raise FormatError('$.mode: %r' % d['mode'])
    runtimes = []
    for i, r in enumerate(d['runtimes']):
        path = '$.runtimes[%d]' % i
        for k, ty in [('id', int), ('name', str), ('flavor', str),
                      ('tasks_total', int), ('traced', int),
                      ('pause_ms', NUM), ('error', (str, NONE)),
                      ('workers', list), ('tasks', list)]:
            _req(r, path, k, ty)
        rt = Runtime(r['id'], r['name'], r['flavor'], r['error'],
                     r['tasks_total'], r['traced'])
        for j, w in enumerate(r['workers']):
            wp = '%s.workers[%d]' % (path, j)
            for k, ty in [('index', int), ('state', str), ('tid', (int, NONE)),
                          ('queued', int), ('held_ms', NUM),
                          ('task', (int, NONE)),
                          ('busy_ms', (int, NONE)),
                          ('native_stack', (list, NONE)),
                          ('native_stack_error', (str, NONE)),
                          ('native_stack_note', (str, NONE)),
                          ('syscall', (dict, NONE))]:
                _req(w, wp, k, ty)
            sc = w['syscall']
            if sc is not None:
                for k, ty in [('name', str), ('fd', (int, NONE)),
                              ('fd_target', (str, NONE)),
                              ('timeout_ms', (int, NONE))]:
                    _req(sc, wp + '.syscall', k, ty)
            wk = Worker(w['index'], w['state'], w['tid'], w['task'],
                        w['busy_ms'], [], w['native_stack_error'],
                        sc['name'] if sc else None)
            for k, f in enumerate(w['native_stack'] or []):
                wk.stack.append(_frame(f, '%s.native_stack[%d]'
                                       % (wp, k)).function)
            rt.workers.append(wk)
        for j, t in enumerate(r['tasks']):
            rt.tasks.append(_json_task(t, '%s.tasks[%d]' % (path, j)))
        if len(rt.tasks) != rt.tasks_total and not rt.error:
            raise FormatError('%s: tasks_total %d, %d tasks'
                              % (path, rt.tasks_total, len(rt.tasks)))
        if sum(1 for t in rt.tasks if t.traced) != rt.traced:
            raise FormatError('%s: traced %d does not match' % (path,
                                                                rt.traced))
        runtimes.append(rt)
    if sum(len(r.tasks) for r in runtimes) != d['tasks_total']:
        raise FormatError('$.tasks_total does not match the tasks')
    header = {k: v for k, v in d.items() if k != 'runtimes'}
    deadlocks = []
    # (a dump of a process without a runtime may have no deadlock key)
    for k, dl in enumerate(_req(d, '$', 'deadlocks', list)
                           if 'deadlocks' in d else []):
        dp = '$.deadlocks[%d]' % k
        members = []
        for i, m in enumerate(_req(dl, dp, 'tasks', list)):
            mp = '%s.tasks[%d]' % (dp, i)
            _req(m, mp, 'name', (str, NONE))
            _req(m, mp, 'holds', list)
            w = _req(m, mp, 'waits_for', dict)
            members.append((_req(m, mp, 'task', int),
                            (_req(w, mp + '.waits_for', 'task', (int, NONE)),
                             _req(w, mp + '.waits_for', 'why', str))))
        deadlocks.append(members)
    warnings = []
    # (a dump of a process without a runtime may have no warning key)
    for k, w in enumerate(_req(d, '$', 'task_warnings', list)
                          if 'task_warnings' in d else []):
        wp = '$.task_warnings[%d]' % k
        kind = _req(w, wp, 'kind', str)
        sev = _req(w, wp, 'severity', str)
        if WARNING_KINDS.get(kind) != sev:
            raise FormatError('%s: kind %r severity %r' % (wp, kind, sev))
        _req(w, wp, 'name', (str, NONE))
        warnings.append((sev, kind, _req(w, wp, 'runtime', int),
                         _req(w, wp, 'task', int),
                         _req(w, wp, 'evidence', str)))
    found = (_req(d, '$', 'task_warnings_found', int)
             if 'task_warnings' in d else 0)
    if found < len(warnings):
        raise FormatError('$.task_warnings_found < listed warnings')
    dump = Dump(d['pid'], d['program'], header, d.get('note'), runtimes,
                deadlocks, warnings, found)
    check_deadlocks(dump)
    check_warnings(dump)
    return dump


def parse_file(path):
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.json'):
        return parse_json(data)
    return parse_text(data)
