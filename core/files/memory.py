"""Giving freed memory back to the operating system. Large files make large temporaries (pyarrow
string operations, pandas frames); allocators keep freed blocks for reuse unless asked, which for
a 1M-row file is hundreds of MB that a long-running server would hold for nothing.

pyarrow's default allocator (mimalloc) keeps a heap per thread, and Streamlit runs each script
run in a thread of its own: what a browser session's file took stayed with the server after the
session ended (measured: +450 MB for 1M rows, bench/console_memory.py). The C allocator gives it
back on malloc_trim, so the whole process uses it (use_system_allocator, called by core/__init__).
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import pyarrow


@lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def use_system_allocator() -> None:
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def release_memory(*, trim_heap: bool = False) -> None:
    """Return pyarrow's unused blocks; with trim_heap also the C heap's (glibc malloc_trim), which
    costs a walk over the heap, so only after a large object is dropped."""
    pyarrow.default_memory_pool().release_unused()
    libc = _libc()
    if trim_heap and libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
