"""cocotb on the generated memory subsystem: DMA tile moves bit-exact against a numpy image.

Every AXI4 port is served by the fixed-latency model, the HBM timing model, random latency with
random READY backpressure, or cocotbext-axi's ``AxiRam``; Icarus and Verilator must agree cycle
for cycle, and the adapter's idle skipping must not move a single cycle.
"""

import json

import pytest

from systole.hw.config import SystoleConfig, preset
from systole.sim.runner import build_for_sim, config_key

CONFIG = preset("tiny")     # 2 channels x 256 bits, 1 MiB, 256-beat buffer


def run(simulator: str, name: str, **env: str) -> None:
    build = build_for_sim(CONFIG, simulator, top="memsys")
    testcase = env.pop("testcase", None)
    expected = 1 if testcase else 2
    tests, failed = build.run("systole.sim.tb_memsys", env=env, testcase=testcase, name=name)
    assert (tests, failed) == (expected, 0)


@pytest.mark.parametrize("model,ready", [
    ("fixed", "1"), ("timing", "1"), ("random", "0.6"), ("axiram", "1"),
], ids=["fixed", "hbm-timing", "random-backpressure", "cocotbext-axiram"])
def test_tile_moves_verilator(model, ready):
    run("verilator", f"{model}-{ready}", SYSTOLE_MEMSYS_MODEL=model, SYSTOLE_READY=ready)


def trace(tmp_path, simulator: str, skip: str) -> dict:
    path = tmp_path / f"{simulator}-{skip}.json"
    run(simulator, f"trace-{skip}", SYSTOLE_MEMSYS_MODEL="timing", SYSTOLE_ROUNDS="1",
        SYSTOLE_SKIP_IDLE=skip, SYSTOLE_TRACE=str(path), testcase="random_tile_moves")
    return json.loads(path.read_text())


def test_icarus_agrees_with_verilator_cycle_for_cycle(tmp_path):
    icarus, verilator = trace(tmp_path, "icarus", "1"), trace(tmp_path, "verilator", "1")
    assert icarus["statuses"] and icarus["statuses"] == verilator["statuses"]
    assert icarus["read_latencies"] == verilator["read_latencies"]


def test_idle_skipping_moves_no_cycle(tmp_path):
    awake, skipping = trace(tmp_path, "verilator", "0"), trace(tmp_path, "verilator", "1")
    assert awake["statuses"] == skipping["statuses"]
    assert awake["read_latencies"] == skipping["read_latencies"]
    # Python ran in fewer cycles (every cycle when awake).
    assert all(s < 0.8 * a for s, a in zip(skipping["wakeups"], awake["wakeups"], strict=True))


def test_build_folder_is_keyed_by_top():
    config = SystoleConfig()
    array, memsys = config_key(config, "array"), config_key(config, "memsys")
    assert array.startswith("array_") and memsys.startswith("memsys_") and array != memsys
    with pytest.raises(ValueError, match="top must be one of"):
        build_for_sim(config, "verilator", top="nope")
