"""tools/atomic_write.py's replacing(), as tools/check.sh runs it (check atomic-write).

Each case prints what went wrong and the line it checks, then the script exits 1; rerun with
`python3 tools/tests/test_atomic_write.py` (DEVELOPERS.md: "Files we write appear whole or not
at all").
"""
import os
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from atomic_write import replacing  # noqa: E402

failures = []


def check(ok, what):
    if not ok:
        failures.append("%s:%d: %s" % (__file__, sys._getframe(1).f_lineno, what))


def read(path):
    with open(path) as f:
        return f.read()


def stand_ins(d):
    return [n for n in os.listdir(d) if ".partial-" in n]


with tempfile.TemporaryDirectory() as d:
    plain = os.path.join(d, "plain")
    with replacing(plain) as f:
        f.write("first")
    check(read(plain) == "first", "a new file gets its bytes")
    try:
        with replacing(plain) as f:
            f.write("second, half")
            raise RuntimeError("a write that fails halfway")
    except RuntimeError:
        pass
    check(read(plain) == "first", "a failed write leaves the old file as it was")
    check(not stand_ins(d), "no stand-in left after a failure: %s" % stand_ins(d))

    target, link = os.path.join(d, "target"), os.path.join(d, "link")
    with open(target, "w") as f:
        f.write("old")
    os.symlink("target", link)
    with replacing(link) as f:
        f.write("new")
    check(os.path.islink(link), "a symbolic link is written through, not renamed over")
    check(read(target) == "new", "the file behind the link gets the bytes")
    check(not stand_ins(d), "no stand-in left beside a link: %s" % stand_ins(d))

for line in failures:
    print(line)
sys.exit(1 if failures else 0)
