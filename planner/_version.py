"""The installed version of planner, in a bottom module so that writers need not import the package."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("planner")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
