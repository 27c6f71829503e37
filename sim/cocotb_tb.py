"""Shared cocotb harness: design description, stream drivers and monitors, the array TB.

In the style of cocotbext-axi: a ``TB`` class owns clock, reset and the bus models; streams are
bound by name from the generated JSON port list, with an idle knob on sources.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from .golden import accumulate_tiles, plan_tiles
from .layout import pack, unpack

__all__ = ["load_design", "StreamSource", "StreamMonitor", "ArrayTB"]

CLOCK_NS = 10


def load_design() -> dict:
    """The JSON description of the design under test (path in ``SYSTOLE_DESIGN``)."""
    with open(os.environ["SYSTOLE_DESIGN"]) as file:
        return json.load(file)


def _ports(design: dict) -> dict:
    return {port["name"]: port for port in design["ports"]}


class StreamSource:
    """Drives ``<name>__payload/valid`` and honours ``<name>__ready`` if the port exists.

    ``idle`` is the probability of inserting an idle cycle before each transfer.
    """

    def __init__(self, dut, design: dict, name: str, *, idle: float = 0.0, seed: int = 0):
        ports = _ports(design)
        self.clk = dut.clk
        self.shape = ports[f"{name}__payload"]["shape"]
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready") if f"{name}__ready" in ports else None
        self.idle = idle
        self.random = random.Random(seed)
        self.valid.value = 0

    async def send(self, value) -> None:
        """Offer ``value`` until the handshake completes (returns just after that edge)."""
        while self.idle and self.random.random() < self.idle:
            self.valid.value = 0
            await RisingEdge(self.clk)
        self.payload.value = pack(self.shape, value)
        self.valid.value = 1
        while True:
            await RisingEdge(self.clk)          # values read here are the pre-edge ones
            if self.ready is None or self.ready.value:
                break
        self.valid.value = 0


class StreamMonitor:
    """Collects every payload of a (valid-only or handshaked) stream with its cycle number."""

    def __init__(self, dut, design: dict, name: str):
        ports = _ports(design)
        self.clk = dut.clk
        self.shape = ports[f"{name}__payload"]["shape"]
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready") if f"{name}__ready" in ports else None
        self.items: deque = deque()
        self.cycle = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self) -> None:
        if self.ready is not None:
            self.ready.value = 1
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            if self.valid.value == 1:      # X (Icarus, before initialisation) is not valid
                bits = self.payload.value.to_unsigned()
                self.items.append((self.cycle, unpack(self.shape, bits)))

    async def wait_for(self, count: int, *, timeout: int) -> None:
        """Wait until ``count`` items arrived; fail after ``timeout`` cycles."""
        for _ in range(timeout):
            if len(self.items) >= count:
                return
            await RisingEdge(self.clk)
        raise AssertionError(f"timeout: {len(self.items)} of {count} items after {timeout} cycles")


class ArrayTB:
    """Testbench for the ``systole_array`` top: feeds tiled GEMMs, returns C and cycle counts."""

    def __init__(self, dut, *, idle: float = 0.0, seed: int = 0):
        self.dut = dut
        self.design = load_design()
        array = self.design["config"]["array"]
        self.rows, self.cols = array["rows"], array["cols"]
        self.latency = self.design["latency"]["acts_to_psums"]
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        self.acts = StreamSource(dut, self.design, "acts", idle=idle, seed=seed)
        self.weights = StreamSource(dut, self.design, "weights", idle=idle, seed=seed + 1)
        self.psums = StreamMonitor(dut, self.design, "psums")

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def gemm(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
        """C = A @ B through the array (K and N tiled, next tile's weights loaded while the
        current one computes); returns C and the cycles from first input to last result."""
        tiles = plan_tiles(a, b, self.rows, self.cols)
        m = a.shape[0]
        self.psums.items.clear()
        start = self.psums.cycle

        async def feed_weights():
            for tile in tiles:
                for row in tile.weights:
                    await self.weights.send(row.tolist())

        feeder = cocotb.start_soon(feed_weights())
        for tile in tiles:
            for index, vector in enumerate(tile.acts):
                await self.acts.send({"data": vector.tolist(), "swap": int(index == 0)})
        total = m * len(tiles)
        await self.psums.wait_for(total, timeout=self.latency + 4 * total + 10)
        await feeder
        items = list(self.psums.items)
        results = [np.array([row for _, row in items[t * m:(t + 1) * m]], dtype=np.int64)
                   for t in range(len(tiles))]
        return accumulate_tiles(tiles, results, m, b.shape[1]), items[-1][0] - start
