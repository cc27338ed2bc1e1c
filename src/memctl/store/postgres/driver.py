"""Importing psycopg without ``importlib.metadata``.

psycopg and psycopg-binary each read their own version at import time with
``importlib.metadata.version`` (their ``version.py``), and importing
``importlib.metadata`` pulls in email, csv, zipfile and more: ~25 ms of a ~300 ms
``memctl store`` on a hub (``python -X importtime``), for two strings nothing in memctl
reads. Both versions are also in the names of the packages' ``.dist-info``
directories, which one directory listing gives. ``preload_versions`` puts those
modules, with those versions, in ``sys.modules`` before psycopg is imported; when
anything is ambiguous (no listing, two installed versions, a package elsewhere) it does
nothing and psycopg reads its versions itself.
"""

import importlib.util
import os
import sys
from types import ModuleType

PACKAGES = ("psycopg", "psycopg_binary")


def _version(package: str) -> str | None:
    """The installed version of ``package`` from its ``.dist-info`` directory name."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.dirname(next(iter(spec.submodule_search_locations)))
    prefix = f"{package}-"
    try:
        found = [
            name[len(prefix) : -len(".dist-info")]
            for name in os.listdir(folder)
            if name.startswith(prefix) and name.endswith(".dist-info")
        ]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


def preload_versions() -> None:
    """``psycopg.version`` and ``psycopg_binary.version`` without importlib.metadata
    (see the module docstring); call before the first ``import psycopg``."""
    if "psycopg" in sys.modules or "importlib.metadata" in sys.modules:
        return  # too late, or nothing to save
    versions = {package: _version(package) for package in PACKAGES}
    if None in versions.values():
        return
    for package, version in versions.items():
        module = ModuleType(f"{package}.version")
        module.__version__ = version  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module
