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


# --- The many-process exit test runs in the background ---------------------------------------
# tests/test_exit.py::test_many_short_processes_exit_cleanly checks hundreds of short processes
# (tests/_exit_driver.py). They start here, when the test is selected, and run in one background
# process group (one core) while the rest of the suite runs; the test itself is moved to the
# end of the run, where it collects their results (with a watchdog), and the process group is
# killed when the session ends.
EXIT_TEST = "tests/test_exit.py::test_many_short_processes_exit_cleanly"

import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(session, config, items):
    hits = [it for it in items if it.nodeid.endswith(EXIT_TEST.split("/", 1)[1])]
    if not hits or config.option.collectonly:
        return
    for it in hits:
        items.remove(it)
        items.append(it)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # every xdist worker collects every test: the test starts the run itself
    from tests import _exit_driver

    _exit_driver.start_background()


def pytest_sessionfinish(session, exitstatus):
    from tests import _exit_driver

    _exit_driver.stop_background()
