"""atomic_write.py: files that appear whole or not at all, for the tools' Python scripts.

    from atomic_write import replacing
    with replacing(path, "w", encoding="utf-8") as f:
        f.write(text)

The file is written beside its target as PATH.partial-PID and renamed over it (os.replace, one
step within a directory) only when the block ends without an exception; otherwise the stand-in is
removed and PATH is as it was. A PATH that is there and is not a plain file (a symbolic link, a
device, a pipe) is written in place: a rename over it would replace the link or the device. The
same rules as shared/atomic_file.h's for the C programs.
"""
import contextlib
import os
import stat


@contextlib.contextmanager
def replacing(path, mode="w", **kwargs):
    try:
        in_place = not stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        in_place = False
    if in_place:
        with open(path, mode, **kwargs) as f:
            yield f
        return
    part = "%s.partial-%d" % (path, os.getpid())
    try:
        with open(part, mode, **kwargs) as f:
            yield f
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(part)
        raise
