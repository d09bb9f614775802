#!/usr/bin/env python3
"""run_user_build.py - traces of a program built as a user builds it.

Installs this build of taskdump into a scratch prefix (`meson install
--destdir`), builds user_app.c there with the installed taskdump.pc, exactly
as the README says (`cc -g -O<n> user_app.c $(pkg-config --cflags --libs
taskdump)`), at -O0, -O2, -O3 and -Os, with the project's compiler and (in
a build without sanitizers) with the other one of gcc and clang if it is
installed, runs each binary (it dumps itself) and checks every frame of
every task exactly:

  * no frame of the await plumbing (td_async_poll_child, td_future_poll,
    the combinators' helpers), whether or not the compiler inlined it;
  * every trace ends in the runtime leaf's own td_*_poll frame, at the line
    of its leaf hook, carrying the wait (nothing the runtime inlined into
    the hook, such as mpsc.c's peek_len, shows as the leaf);
  * two identical TD_AWAITs in the two branches of an `if` are reported at
    their own lines;
  * file names follow the README's rule: the user's file as it was given to
    the compiler (frames and spawned= alike), the runtime's relative to its
    source tree.

With --out-of-tree it configures a build of the source tree in a fresh
directory outside it instead (as `meson setup /tmp/elsewhere` would), builds
only libtaskdump there and checks the same program, once, against that
library: the runtime's file names must not depend on where it was built.

Usage: run_user_build.py [--out-of-tree] MESON BUILD_ROOT SOURCE_ROOT PREFIX
       LIBDIR SANITIZE CC...   (CC: the project's compiler command)
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LEVELS = ['-O0', '-O2', '-O3', '-Os']


def fail(msg):
    print('user_build: ' + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, **kw)
    if r.returncode != 0:
        fail('%s exited %d:\n%s%s' % (' '.join(cmd), r.returncode, r.stdout,
                                       r.stderr))
    return r.stdout


def markers(path):
    """{name: line} of the `/* @name */` markers of a source file."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = re.search(r'/\* @(\w+) \*/', line)
            if m:
                out[m.group(1)] = n
    return out


def hook_line(src_root, rel, function):
    """The line of the leaf hook in `function` of runtime file `rel`."""
    with open(os.path.join(src_root, rel)) as f:
        lines = f.read().split('\n')
    start = None
    for i, line in enumerate(lines):
        if re.match(r'^(static\s+)?td_poll\s+%s\(' % function, line):
            start = i
        elif start is not None and 'TD_LEAF_HOOK(' in line:
            return i + 1
    fail('no leaf hook for %s in %s' % (function, rel))


def entries(text):
    """{task name: [tree lines]} of an ungrouped text dump."""
    out, cur = {}, None
    for line in text.split('\n'):
        m = re.match(r'^task \d+ name="([^"]*)"', line)
        if m:
            cur = out.setdefault(m.group(1), {'task': line, 'tree': []})
        elif not line:
            cur = None
        elif cur is not None:
            cur['tree'].append(line)
    return out


def expected(src_root, app, m):
    """[task name, spawn marker, [(line regexp)]] for every task."""
    def leaf(fn, rel):
        return r'%s at %s:%d' % (fn, re.escape(rel),
                                 hook_line(src_root, rel, fn))
    sleep = leaf('td_sleep_poll', 'runtime/src/time/sleep.c')
    notified = leaf('td_notified_poll', 'runtime/src/sync/notify.c')
    recv = leaf('td_mpsc_recv_poll', 'runtime/src/sync/mpsc.c')
    here = lambda fn, mark: r'%s at %s:%d' % (fn, re.escape(app), m[mark])
    wait = r' \[waiting: %s\]$'
    return {
        'then': [r'^╼ ' + here('branch_poll', 'then') + '$',
                 r'^   └╼ ' + sleep + wait % r'sleep, [0-9.]+ s left'],
        'else': [r'^╼ ' + here('branch_poll', 'else') + '$',
                 r'^   └╼ ' + sleep + wait % r'sleep, [0-9.]+ s left'],
        'recv': [r'^╼ ' + here('recv_outer_poll', 'outer') + '$',
                 r'^   └╼ ' + here('recv_inner_poll', 'inner') + '$',
                 r'^      └╼ ' + recv +
                 wait % r'channel 0x[0-9a-f]+ recv, 0 queued'],
        'deep': [r'^╼ ' + here('deep_one_poll', 'one') + '$',
                 r'^   └╼ ' + here('deep_two_poll', 'two') + '$',
                 r'^      └╼ ' + here('deep_three_poll', 'three') + '$',
                 r'^         └╼ ' + notified + wait % r'notify 0x[0-9a-f]+'],
        'fan': [r'^╼ ' + here('fan_poll', 'fan') + '$',
                r'^   └╼ td_join_all_poll at '
                r'runtime/src/combinators/join_all\.c:\d+$',
                r'^      ├╼ ' + here('fan_nap_poll', 'nap') + '$',
                r'^      │  └╼ ' + sleep + wait % r'sleep, [0-9.]+ s left',
                r'^      └╼ ' + here('fan_wait_poll', 'wait') + '$',
                r'^         └╼ ' + notified + wait % r'notify 0x[0-9a-f]+'],
    }


def check_dump(label, text, want, app):
    got = entries(text)
    problems = []
    for name, lines in want.items():
        e = got.get(name)
        if e is None:
            problems.append('task %r missing' % name)
            continue
        if not re.search(r' spawned=%s:\d+ ' % re.escape(app), e['task']):
            problems.append('task %r: spawn site is not %s: %s'
                            % (name, app, e['task']))
        tree = e['tree']
        ok = len(tree) == len(lines) and all(
            re.search(w, g) for w, g in zip(lines, tree))
        if not ok:
            problems.append('task %r:\n  expected (patterns):\n    %s\n'
                            '  got:\n    %s' % (name, '\n    '.join(lines),
                                                '\n    '.join(tree)))
    if problems:
        return ['%s: %s' % (label, p) for p in problems]
    return []


def compilers(project_cc, sanitize):
    ccs = [('cc', project_cc)]
    if sanitize != 'none':
        return ccs  # another compiler's sanitizer runtime would clash
    name = os.path.basename(project_cc[0])
    other = 'clang' if 'gcc' in name or name == 'cc' else 'gcc'
    path = shutil.which(other)
    if path:
        ccs.append((other, [path]))
    return ccs


def installed_flags(meson, build, prefix, libdir, work):
    """Install the build into work/destdir; (cflags and libs, libdir)."""
    destdir = os.path.join(work, 'destdir')
    run([meson, 'install', '-C', build, '--no-rebuild', '--quiet',
         '--destdir', destdir])
    root = destdir + prefix
    lib = os.path.join(root, libdir)
    pc_dir = os.path.join(lib, 'pkgconfig')
    if not os.path.exists(os.path.join(pc_dir, 'taskdump.pc')):
        fail('no taskdump.pc installed in %s' % pc_dir)
    env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
    env.pop('PKG_CONFIG_LIBDIR', None)
    # The scratch prefix stands for the --prefix a user would have
    # configured: the .pc file names /usr/local, the files are in destdir.
    flags = shlex.split(run(['pkg-config', '--define-variable=prefix=' + root,
                             '--cflags', '--libs', 'taskdump'], env=env))
    return flags, lib


def out_of_tree_flags(meson, src_root, sanitize, oot):
    """Build libtaskdump in `oot`; (cflags and libs, libdir)."""
    run([meson, 'setup', oot, src_root, '-Db_sanitize=' + sanitize],
        cwd=oot)
    run([meson, 'compile', '-C', oot, 'runtime/taskdump:shared_library'])
    pc = os.path.join(oot, 'meson-private')
    env = dict(os.environ, PKG_CONFIG_PATH=pc)
    env.pop('PKG_CONFIG_LIBDIR', None)
    trace = shlex.split(run(['pkg-config', '--cflags-only-other',
                             'taskdump'], env=env))
    lib = os.path.join(oot, 'runtime')
    return (['-I' + os.path.join(src_root, 'runtime', 'include')] + trace +
            ['-L' + lib, '-ltaskdump']), lib


def main():
    args = sys.argv[1:]
    oot_mode = args[:1] == ['--out-of-tree']
    if oot_mode:
        args = args[1:]
    if len(args) < 7:
        fail('usage: run_user_build.py [--out-of-tree] MESON BUILD_ROOT '
             'SOURCE_ROOT PREFIX LIBDIR SANITIZE CC...')
    meson, build, src_root, prefix, libdir, sanitize = args[:6]
    project_cc = args[6:]
    work = os.path.join(build, 'tests', 'user',
                        'out-of-tree' if oot_mode else 'user-build')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    oot = None
    try:
        if oot_mode:
            # Outside the source tree, and not below the build root.
            oot = tempfile.mkdtemp(prefix='td-out-of-tree-')
            flags, lib = out_of_tree_flags(meson, src_root, sanitize, oot)
            builds = [('cc', project_cc, '-O2')]
        else:
            flags, lib = installed_flags(meson, build, prefix, libdir, work)
            builds = [(name, cc, level)
                      for name, cc in compilers(project_cc, sanitize)
                      for level in LEVELS]
        check_builds(builds, flags, lib, work, src_root, sanitize)
    finally:
        if oot:
            shutil.rmtree(oot, ignore_errors=True)
    print('user_build: every frame as expected')


def check_builds(builds, flags, lib, work, src_root, sanitize):
    app = 'user_app.c'
    shutil.copy(os.path.join(HERE, app), os.path.join(work, app))
    want = expected(src_root, app, markers(os.path.join(HERE, app)))
    san = ['-fsanitize=' + sanitize] if sanitize != 'none' else []
    run_env = dict(os.environ, LD_LIBRARY_PATH=lib)
    problems = []
    for cc_name, cc, level in builds:
        label = '%s %s' % (cc_name, level)
        exe = os.path.join(work, 'app-%s%s' % (cc_name, level))
        run(cc + ['-g', level] + san + [app] + flags + ['-o', exe], cwd=work)
        text = run([exe], cwd=work, env=run_env)
        found = check_dump(label, text, want, app)
        print('%s: %s' % (label, 'ok' if not found else 'WRONG'))
        problems += found
    if problems:
        fail('\n'.join(problems))


if __name__ == '__main__':
    main()
