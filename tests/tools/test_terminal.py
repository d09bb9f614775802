#!/usr/bin/env python3
"""test_terminal.py TASKDUMP DATA - colour and the pager, on and off.

Piped, the output is what it always was: no escape codes, no pager.  On a
terminal (a pty), --color=auto colours show and diff, NO_COLOR, TERM=dumb
and --color=never do not; show, diff, fold and help go through the pager
($TASKDUMP_PAGER before $PAGER; empty or "cat": none; --no-pager), which
gets LESS=FRX unless LESS is set, and taskdump waits for it; dump and run
are never paged; a pager quit early ends taskdump quietly with status 0.
The pagers are small scripts that record that they ran."""
import atexit
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading

TD = os.path.abspath(sys.argv[1])
DATA = os.path.abspath(sys.argv[2])
D1 = os.path.join(DATA, "demo-1.txt")
D2 = os.path.join(DATA, "demo-2.txt")
DL = os.path.join(DATA, "deadlock.txt")
ESC = re.compile(rb"\x1b\[[0-9;]*m")
WORK = tempfile.mkdtemp(prefix="taskdump-term.")
atexit.register(shutil.rmtree, WORK, True)
MARK = os.path.join(WORK, "mark")
checks = 0


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)


def script(name, body):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


# A pager that records its environment, passes its input on, and marks
# the end after a pause: "done" is there when taskdump exits only if
# taskdump waited for it (on_tty notes the marks at that moment).
PAGER = script("pager", 'echo "pager LESS=${LESS-unset} LV=${LV-unset}" '
               '>>"$MARK"\ncat\nsleep 0.3\necho done >>"$MARK"\n')
OTHER = script("other-pager", 'echo other >>"$MARK"\ncat\n')
# A user who reads the first line and quits.
QUITTER = script("quitter", 'echo quitter >>"$MARK"\nhead -n 1 >/dev/null\n')


def env(**kw):
    e = {k: v for k, v in os.environ.items()
         if k not in ("NO_COLOR", "LESS", "LV", "PAGER", "TASKDUMP_PAGER")}
    e.update(TERM="xterm", MARK=MARK, PAGER=PAGER)
    for k, v in kw.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def marks():
    try:
        with open(MARK) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def piped(args, **kw):
    """Run with stdout a pipe: (status, stdout, stderr)."""
    if os.path.exists(MARK):
        os.unlink(MARK)
    p = subprocess.run([TD] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       env=env(**kw), timeout=60)
    return p.returncode, p.stdout, p.stderr


at_exit = []  # marks() as taskdump exited, in the last on_tty


def on_tty(args, **kw):
    """Run with stdout (and stdin) a pty: (status, output, stderr)."""
    if os.path.exists(MARK):
        os.unlink(MARK)
    master, slave = pty.openpty()
    err = open(os.path.join(WORK, "stderr"), "w+b")
    p = subprocess.Popen([TD] + args, stdin=slave, stdout=slave, stderr=err,
                         env=env(**kw), start_new_session=True)
    os.close(slave)

    def waiter():
        p.wait()
        at_exit[:] = marks()
    watch = threading.Thread(target=waiter)
    watch.start()
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            p.kill()
            fail("%s: no output for 60 s" % args)
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    watch.join(60)
    rc = p.wait(timeout=60)
    err.seek(0)
    return rc, out.replace(b"\r\n", b"\n"), err.read()


# --- piped: as before -----------------------------------------------------
with open(DL, "rb") as f:
    dl = f.read()
rc, out, err = piped(["show", "--no-group", DL])
check(rc == 0 and err == b"", "show piped: status %d, %r" % (rc, err))
check(out == dl, "show piped: not the file, byte for byte")
check(marks() == [], "show piped: the pager ran")
for args in (["show", D1], ["show", "--summary", DL], ["diff", D1, D2],
             ["fold", D1], ["help"], ["show", "--help"]):
    rc, plain, _ = piped(["--color=never"] + args)
    rc, out, _ = piped(args)
    check(out == plain, "%s piped differs from --color=never" % args)
    check(not ESC.search(out), "%s piped has escape codes" % args)
    check(marks() == [], "%s piped: the pager ran" % args)
# --color=always colours a pipe too; without its escapes it is the same.
for args in (["show", DL], ["show", "--summary", DL], ["diff", D1, D2]):
    rc, plain, _ = piped(args)
    rc, out, _ = piped(["--color=always"] + args)
    check(ESC.search(out), "%s --color=always: no escape codes" % args)
    check(ESC.sub(b"", out) == plain,
          "%s --color=always: not the plain text plus escapes" % args)
    rc, out2, _ = piped([args[0], "--color=always"] + args[1:],
                        NO_COLOR="1")
    check(out2 == out, "%s: --color=always does not beat NO_COLOR" % args)
rc, out, _ = piped(["--color=always", "show", "-f", "json", D1])
check(not ESC.search(out), "JSON is never coloured")
rc, out, _ = piped(["--color=always", "fold", D1])
check(not ESC.search(out), "fold is never coloured")

# What is coloured: task labels bold, waits cyan, deadlocks red.
rc, out, _ = piped(["show", "--color=always", DL])
check(b'\x1b[1mtask 1 name="t3"\x1b[0m state=idle' in out, "bold task label")
check(b"\x1b[36m[waiting: mutex 0x5581e2a0 held by task 3]\x1b[0m" in out,
      "cyan wait")
check(b"\x1b[31mdeadlocks 1\x1b[0m" in out, "red deadlock section")
rc, out, _ = piped(["show", "--summary", "--color=always", DL])
check(b"\x1b[1;31mFound 1 deadlock\x1b[0m" in out, "red Found")

# --- on a terminal --------------------------------------------------------
rc, out, err = on_tty(["show", "--no-group", DL])
check(rc == 0 and err == b"", "show on a tty: status %d, %r" % (rc, err))
check(b"\x1b[1mtask 1" in out, "show on a tty is not coloured")
check(ESC.sub(b"", out) == dl, "show on a tty: not the dump")
check(at_exit == ["pager LESS=FRX LV=-c", "done"],
      "show on a tty: pager not run, or not waited for: %s" % at_exit)
for args in (["diff", D1, D2], ["show", "--summary", DL]):
    rc, out, err = on_tty(args)
    check(rc == 0 and ESC.search(out) and at_exit[-1:] == ["done"],
          "%s on a tty: colour and pager" % args)
for args in (["fold", D1], ["help"], ["help", "diff"], ["show", "--help"]):
    rc, out, err = on_tty(args)
    check(rc == 0 and at_exit[-1:] == ["done"], "%s: not paged" % args)
    check(not ESC.search(out), "%s: coloured" % args)
rc, out, err = on_tty(["show", D1], LESS="-S")
check(marks()[0] == "pager LESS=-S LV=-c", "LESS overridden: %s" % marks())

# The compact view is the default on a terminal (issue 13): one block per
# group; --tasks gives the task lines; a pipe keeps the file format.
rc, out, err = on_tty(["show", "--color=never", D1])
check(rc == 0 and b"\n2 tasks: 4-5 name=\"client\" state=idle" in out,
      "show on a tty: no compact block")
check(b"\ntask 4 " not in out, "show on a tty lists grouped tasks")
rc, out, err = on_tty(["show", "--color=never", "--tasks", D1])
check(b"\ntask 4 " in out and b"tasks: 4-5" not in out,
      "show --tasks on a tty: not the task lines")
rc, out, _ = piped(["show", D1])
check(b"tasks: 4-5" not in out and b"\ntask 4 " in out,
      "show piped: the compact view")
rc, out, _ = piped(["show", "--compact", D1])
check(b"\n2 tasks: 4-5 name=\"client\"" in out, "--compact piped")

# Colour off: NO_COLOR (any non-empty value), TERM=dumb, --color=never.
for args, kw in ((["show", DL], {"NO_COLOR": "1"}),
                 (["show", DL], {"NO_COLOR": "no"}),
                 (["show", DL], {"TERM": "dumb"}),
                 (["show", "--color=never", DL], {}),
                 (["--color=never", "diff", D1, D2], {})):
    rc, out, err = on_tty(args, **kw)
    check(rc == 0 and not ESC.search(out), "%s %s: coloured" % (args, kw))
rc, out, err = on_tty(["show", DL], NO_COLOR="")
check(ESC.search(out), "an empty NO_COLOR disables colour")

# Which pager: TASKDUMP_PAGER first; empty or cat: none; --no-pager.
rc, out, err = on_tty(["show", D1], TASKDUMP_PAGER=OTHER)
check(marks() == ["other"], "TASKDUMP_PAGER not preferred: %s" % marks())
for kw in ({"TASKDUMP_PAGER": ""}, {"TASKDUMP_PAGER": "cat"},
           {"PAGER": ""}, {"PAGER": "cat"}):
    rc, out, err = on_tty(["show", "--no-group", DL], **kw)
    check(rc == 0 and marks() == [], "%s: a pager ran" % kw)
    check(ESC.sub(b"", out) == dl, "%s: output" % kw)
for args in (["show", "--no-pager", DL], ["--no-pager", "show", DL],
             ["--no-pager", "help", "show"]):
    rc, out, err = on_tty(args)
    check(rc == 0 and marks() == [], "%s: a pager ran" % args)
# A pager that is not there: one warning, the output on the terminal.
rc, out, err = on_tty(["show", "--no-group", DL],
                      PAGER="/nonexistent/pager -x")
check(rc == 0 and ESC.sub(b"", out) == dl, "missing pager: output lost")
check(err.count(b"\n") == 1 and b"warning: cannot find the pager" in err,
      "missing pager: %r" % err)

# dump and run are not paged (what they print is progress, or a file).
rc, out, err = on_tty(["dump", "--help"])
check(marks() == ["pager LESS=FRX LV=-c", "done"], "help is paged")
rc, out, err = on_tty(["run", "--", "true"])
check(marks() == [], "run was paged")
rc, out, err = on_tty(["dump", "999999999"])
check(rc != 0 and marks() == [], "dump was paged")

# The user quits after one line of a long report: status 0, nothing said.
rc, out, err = on_tty(["show"] + [D1] * 3000, PAGER=QUITTER)
check(marks() == ["quitter"], "quitter did not run")
check(rc == 0 and err == b"", "quit early: status %d, %r" % (rc, err))
rc, out, err = on_tty(["diff", "--top", "0"] + [D1, D2], PAGER=QUITTER)
check(rc == 0 and err == b"", "diff quit early: status %d, %r" % (rc, err))

print("ok: %d checks" % checks)
