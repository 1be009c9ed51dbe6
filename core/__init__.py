"""Contact import core: read -> map -> validate -> commit, shared by the console, the CLI and tests.

No Streamlit here: pages call these functions and render what they return.
"""
