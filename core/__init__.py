"""Contact import core: read -> map -> validate -> commit, shared by the console, the CLI and tests.

In packages by concern, each importing only those below it: files (bytes -> rows), rows (mapping,
validation, fixes, counts), storage (the database and every SQL statement), access (roles, keys)
and importing (the service, the one facade the doors import). No Streamlit here: pages call the
facade and render what it returns.
"""

from core.files.memory import use_system_allocator

use_system_allocator()  # before any file is read: see core/files/memory.py
