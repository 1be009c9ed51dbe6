"""Giving freed memory back to the operating system. Large files make large temporaries (pyarrow
string operations, pandas frames); both allocators keep freed blocks for reuse unless asked, which
for a 1M-row file is hundreds of MB that a long-running server would hold for nothing."""
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


def release_memory(*, trim_heap: bool = False) -> None:
    """Return pyarrow's unused blocks; with trim_heap also the C heap's (glibc malloc_trim), which
    costs a walk over the heap, so only after a large object is dropped."""
    pyarrow.default_memory_pool().release_unused()
    libc = _libc()
    if trim_heap and libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
