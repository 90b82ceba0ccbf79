"""TOML, read with the standard library's tomllib (Python 3.11 and later) or,
on Python 3.10, with tomli, the package tomllib was made from (Ubuntu 22.04's
python3-tomli: the Python of Gradescope's default image is 3.10). Both have
the same loads() and TOMLDecodeError."""

from __future__ import annotations

import sys

# A version test, not try/except ImportError: mypy then checks the branch of
# the Python it is told of and never needs tomli installed.
if sys.version_info >= (3, 11):
    from tomllib import TOMLDecodeError, loads
else:  # Python 3.10
    from tomli import TOMLDecodeError, loads

__all__ = ["TOMLDecodeError", "loads"]
