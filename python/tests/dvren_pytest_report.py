"""python/tests/dvren_pytest_report.py - a pytest plugin that prints one line
per test in the form tests/run.sh counts:

    PASS python/<nodeid>
    FAIL python/<nodeid>: <short reason>
    SKIP python/<nodeid>: <reason>

A test file that cannot be collected (an import error, a syntax error) gives
one FAIL line naming the file; run pytest with --continue-on-collection-errors
so that the other files still run. An expected failure (xfail) is a SKIP.

    pytest -p dvren_pytest_report python/tests      (python/tests on sys.path)

The lines go to the file descriptor named by $DVREN_PYTEST_REPORT_FD when set
(tests/test_python.sh sends pytest's own output to stderr, these lines to
stdout), else to the terminal.
"""
import os

PREFIX = os.environ.get("DVREN_PYTEST_PREFIX", "python/")  # tests/test_python.sh's sanitizer pass: "python[san]/"
_config = None
_out = None
_reports = {}  # nodeid -> [report of setup, call, teardown]


def _emit(config, line):
    global _out
    fd = os.environ.get("DVREN_PYTEST_REPORT_FD")
    if fd:
        if _out is None:
            _out = os.fdopen(os.dup(int(fd)), "w", buffering=1)
        _out.write(line + "\n")
    else:
        config.pluginmanager.get_plugin("terminalreporter").write_line(line)


def _oneline(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(report):
    """A short reason from a failed or skipped report."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: why")
        msg = longrepr[2]
        return msg[len("Skipped: "):] if msg.startswith("Skipped: ") else msg
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return crash.message.splitlines()[0] if crash.message.strip() else "failed"
    # a collection error's text: the last "E   ..." line names the exception
    lines = [l for l in str(longrepr).splitlines() if l.strip()]
    errors = [l[1:].strip() for l in lines if l.startswith("E ")]
    return errors[-1] if errors else (lines[-1] if lines else "failed")


def pytest_configure(config):
    global _config
    _config = config


def pytest_collectreport(report):
    if report.failed:
        _emit(_config, f"FAIL {PREFIX}{report.nodeid or '<collection>'}: cannot collect: {_oneline(_reason(report))}")
    elif report.skipped:  # a module-level skip (test_gpu.py without a GPU): one line for the file
        _emit(_config, f"SKIP {PREFIX}{report.nodeid}: {_oneline(_reason(report))}")


def pytest_runtest_logreport(report):
    _reports.setdefault(report.nodeid, []).append(report)


def pytest_runtest_logfinish(nodeid, location):
    reports = _reports.pop(nodeid, [])
    name = PREFIX + nodeid
    failed = [r for r in reports if r.failed]
    skipped = [r for r in reports if r.skipped]
    if failed:
        r = failed[0]
        where = "" if r.when == "call" else f"error in {r.when}: "
        _emit(_config, f"FAIL {name}: {where}{_oneline(_reason(r))}")
    elif skipped:
        r = skipped[0]
        if hasattr(r, "wasxfail"):
            _emit(_config, f"SKIP {name}: expected failure (xfail){': ' + _oneline(r.wasxfail) if r.wasxfail else ''}")
        else:
            _emit(_config, f"SKIP {name}: {_oneline(_reason(r))}")
    elif reports:
        _emit(_config, f"PASS {name}")
