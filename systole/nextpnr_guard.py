"""Run nextpnr, and stop it when its router does not converge in a time budget.

nextpnr's router1 gives the ULX3S build 4-5 MHz more than router2, but on some placements of
a congested netlist it stops converging: a few dozen overused wires it rips up and reroutes
for hours (one build was still routing after 22 minutes where others finish in 2). The build
script runs this module in nextpnr's place (``python -m systole.nextpnr_guard ARGS``); it runs
the real nextpnr (:data:`TOOL_VAR`) with the same arguments, watches the log (``--log``) and,
when routing has taken longer than :data:`BUDGET_VAR` seconds, stops nextpnr, adds
:data:`STOPPED` to the log and exits with :data:`EXIT_STOPPED`. ``systole fpga`` then tries
another seed (:func:`systole.fpga.build_fpga`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BUDGET_VAR", "EXIT_STOPPED", "STOPPED", "TOOL_VAR", "run"]

#: The real nextpnr (command name or path).
TOOL_VAR = "SYSTOLE_NEXTPNR"
#: Seconds of routing allowed (from the log's ``Routing..`` line).
BUDGET_VAR = "SYSTOLE_ROUTE_SECONDS"
#: The line added to the log when routing is stopped (:func:`systole.fpga.router_stopped`).
STOPPED = "systole: routing stopped after"
#: The exit status of a stopped run (``EX_TEMPFAIL``: another seed may route).
EXIT_STOPPED = 75

_ROUTING = b"Info: Routing.."


def run(argv: list[str], tool: str, budget: float, poll: float = 1.0) -> int:
    """Run ``tool argv`` and return its exit status, or :data:`EXIT_STOPPED` when routing
    (from the line ``Info: Routing..`` of the ``--log`` file) outlasts ``budget`` seconds."""
    log = Path(argv[argv.index("--log") + 1]) if "--log" in argv else None
    process = subprocess.Popen([tool, *argv])
    routing_since = None
    seen = 0    # bytes of the log already searched
    while True:
        try:
            return process.wait(timeout=poll)
        except subprocess.TimeoutExpired:
            pass
        if log is None or not log.exists():
            continue
        if routing_since is None:
            with log.open("rb") as file:
                # Back a little, in case the marker was cut at the end of the last read.
                start = max(seen - len(_ROUTING), 0)
                file.seek(start)
                text = file.read()
            seen = start + len(text)
            if _ROUTING in text:
                routing_since = time.monotonic()
        elif time.monotonic() - routing_since > budget:
            process.kill()
            process.wait()
            with log.open("a") as file:
                file.write(f"\n{STOPPED} {budget:g} s (router did not converge)\n")
            return EXIT_STOPPED


def main() -> int:
    return run(sys.argv[1:], os.environ[TOOL_VAR], float(os.environ[BUDGET_VAR]))


if __name__ == "__main__":
    sys.exit(main())
