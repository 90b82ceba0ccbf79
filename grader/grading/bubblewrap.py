"""Parts of a bubblewrap command line that the compile box and the test
sandbox share: the system's directories, read-only, and an environment that
holds nothing of the grader's."""

from __future__ import annotations

import os
from pathlib import Path


def system_directories(*, etc: bool) -> list[str]:
    """/usr, read-only, and the top-level links into it; /etc too when
    `etc`. A compile needs nothing in /etc (the dynamic loader finds its
    libraries in the default directories without /etc/ld.so.cache); a test
    program may read it as any program does."""
    args = ["--ro-bind", "/usr", "/usr"]
    if etc:
        args += ["--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def clean_environment(path: str, **variables: str) -> list[str]:
    """Only PATH=`path`, TMPDIR and HOME (both /tmp), and `variables`."""
    args = ["--clearenv"]
    for name, value in {"PATH": path, "TMPDIR": "/tmp", "HOME": "/tmp", **variables}.items():
        args += ["--setenv", name, value]
    return args
