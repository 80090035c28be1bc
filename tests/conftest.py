"""Test-session settings shared by every test module."""

import os

# The persistent compile cache (lowering/_diskcache.py) is off for the test run, so that no
# test reads executables another run wrote and the suite leaves nothing in the user's cache
# directory. tests/test_compile_cache.py turns it on, pointed at temporary directories.
os.environ["XFRONT_CACHE"] = "0"

# Under CI (CI=true) hypothesis draws the same examples on every run (derandomize), so a green
# run is reproducible and a failure names an example that fails again; locally it explores
# freshly each run (the front-door fuzzer found real bugs that way).
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None)
    settings.load_profile("ci")
