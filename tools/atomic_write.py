"""atomic_write.py: files that appear whole or not at all, for the tools' Python scripts.

    from atomic_write import replacing
    with replacing(path, "w", encoding="utf-8") as f:
        f.write(text)

The file is written beside its target as PATH.partial-PID and renamed over it (os.replace, one
step within a directory) only when the block ends without an exception; otherwise the stand-in is
removed and PATH is as it was. shared/atomic_file.h does the same for the C programs.
"""
import contextlib
import os


@contextlib.contextmanager
def replacing(path, mode="w", **kwargs):
    part = "%s.partial-%d" % (path, os.getpid())
    try:
        with open(part, mode, **kwargs) as f:
            yield f
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(part)
        raise
