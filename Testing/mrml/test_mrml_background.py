"""The background runner: JSON progress relayed, the core's error line surfaced, whole tree cancelled."""

import sys
import textwrap
import time

import psutil

from BrainTumorAISlicer.background import (
    BackgroundProcess, ProgressEvent, kill_descendants_with_psutil, parse_progress_line)

# A child that starts a grandchild (which prints its pid), reports progress, then sleeps.
TREE_SCRIPT = textwrap.dedent("""
    import json, subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(json.dumps({"stage": "started", "fraction": 0.1, "message": str(grandchild.pid)}), flush=True)
    time.sleep(600)
""")


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _dead(pid: int) -> bool:
    """Gone, or a zombie waiting for a parent that no longer exists to reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _first_event(process: BackgroundProcess) -> ProgressEvent:
    for _ in range(400):
        events = process.poll()
        if events:
            return events[0]
        time.sleep(0.025)
    raise AssertionError("no progress line within 10 s")


def test_progress_lines_are_parsed_and_other_output_ignored():
    assert parse_progress_line('{"stage": "registration", "fraction": 0.25, "message": "t2 to t1ce"}\n') == \
        ProgressEvent("registration", 0.25, "t2 to t1ce")
    assert parse_progress_line('{"stage": "done", "fraction": 1}') == ProgressEvent("done", 1.0, "")
    for other in ("gbm-met: GBM (predictive index 0.81)", "[1, 2]", '{"stage": "x"}', ""):
        assert parse_progress_line(other) is None


def test_progress_events_arrive_in_order_and_exit_status_is_kept():
    code = textwrap.dedent("""
        import json
        print("a summary line that is not progress")
        for i in range(5):
            print(json.dumps({"stage": f"step{i}", "fraction": i / 4, "message": ""}), flush=True)
    """)
    received = []
    status = BackgroundProcess(_python(code)).follow(received.append, interval_s=0.01)
    assert status == 0
    assert [e.stage for e in received] == [f"step{i}" for i in range(5)]
    assert [e.fraction for e in received] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_the_core_error_line_becomes_the_message():
    code = textwrap.dedent("""
        import sys
        print("warning: something", file=sys.stderr)
        print("error: t2: file not found", file=sys.stderr)
        sys.exit(2)
    """)
    process = BackgroundProcess(_python(code))
    assert process.wait() == 2
    assert process.error_message() == "t2: file not found"


def test_without_an_error_line_the_last_stderr_line_or_the_status_is_the_message():
    crash = BackgroundProcess(_python("raise SystemExit('boom')"))
    crash.wait()
    assert crash.error_message() == "boom"
    silent = BackgroundProcess(_python("import sys; sys.exit(3)"))
    silent.wait()
    assert "exit status 3" in silent.error_message()


def test_cancel_stops_the_child_and_its_grandchild():
    process = BackgroundProcess(_python(TREE_SCRIPT))
    grandchild = int(_first_event(process).message)
    assert not _dead(grandchild)
    process.cancel()
    assert process.cancelled and not process.running
    assert _dead(process.pid) and _dead(grandchild)


def test_cancel_reaches_a_grandchild_orphaned_before_the_cancel():
    code = textwrap.dedent("""
        import json, subprocess, sys
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(json.dumps({"stage": "started", "fraction": 0.1, "message": str(grandchild.pid)}), flush=True)
    """)
    process = BackgroundProcess(_python(code))
    grandchild = int(_first_event(process).message)
    while process.running:
        time.sleep(0.02)
    assert not _dead(grandchild)  # the parent is gone, the grandchild still runs in its group
    process.cancel()
    assert _dead(grandchild)


def test_the_psutil_tree_kill_used_on_windows_stops_the_tree_too():
    process = BackgroundProcess(_python(TREE_SCRIPT))
    grandchild = int(_first_event(process).message)
    kill_descendants_with_psutil(process.pid, grace_s=0.5)
    process.wait()
    assert _dead(process.pid) and _dead(grandchild)
