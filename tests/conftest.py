"""Test-session settings shared by every test module."""

import os

# The persistent compile cache (lowering/_diskcache.py) is off for the test run, so that no
# test reads executables another run wrote and the suite leaves nothing in the user's cache
# directory. tests/test_compile_cache.py turns it on, pointed at temporary directories.
os.environ["XFRONT_CACHE"] = "0"
