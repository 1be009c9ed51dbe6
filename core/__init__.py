"""Contact import core: read -> map -> validate -> commit, shared by the console, the CLI and tests.

No Streamlit here: pages call these functions and render what they return.
"""

from core.memory import use_system_allocator

use_system_allocator()  # before any file is read: see core/memory.py
