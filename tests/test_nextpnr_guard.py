"""systole.nextpnr_guard: nextpnr's routing stopped after a time budget (a fake nextpnr)."""

import sys
import time

from systole.nextpnr_guard import EXIT_STOPPED, STOPPED, run

FAKE = """import sys, time
log = sys.argv[sys.argv.index("--log") + 1]
place, route, status = (float(word) for word in sys.argv[1:4])
with open(log, "w", buffering=1) as file:
    file.write("Info: Placing..\\n" + "x" * 100000 + "\\n")
    time.sleep(place)
    file.write("Info: Routing..\\n")
    time.sleep(route)
    file.write("Info: Program finished normally.\\n")
sys.exit(int(status))
"""


def fake_nextpnr(tmp_path):
    tool = tmp_path / "nextpnr"
    tool.write_text(f"#!{sys.executable}\n{FAKE}")
    tool.chmod(0o755)
    return str(tool)


def test_a_route_within_budget_runs_to_the_end(tmp_path):
    tool, log = fake_nextpnr(tmp_path), tmp_path / "systole.tim"
    # Placement longer than the budget does not count: the budget is for routing.
    assert run(["1.0", "0.1", "0", "--log", str(log)], tool, budget=0.5, poll=0.05) == 0
    assert log.read_text().endswith("Program finished normally.\n")
    # nextpnr's own exit status goes through.
    assert run(["0", "0", "3", "--log", str(log)], tool, budget=5, poll=0.05) == 3


def test_a_route_over_budget_is_stopped_and_logged(tmp_path):
    tool, log = fake_nextpnr(tmp_path), tmp_path / "systole.tim"
    start = time.monotonic()
    assert run(["0.2", "60", "0", "--log", str(log)], tool, budget=0.5, poll=0.05) \
        == EXIT_STOPPED
    assert time.monotonic() - start < 30     # nextpnr was killed, not waited for
    text = log.read_text()
    assert "Program finished" not in text
    assert text.endswith(f"{STOPPED} 0.5 s (router did not converge)\n")
