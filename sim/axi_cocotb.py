"""cocotb adapter of :class:`~systole.sim.axi_slave.AxiSlavePort`.

Serves one AXI4 slave port whose signals carry the standard AMBA names
(``<prefix>_arvalid``, ``<prefix>_rdata``, ...) from the simulator-agnostic Python core, with the
same two calls as the Amaranth adapter (:mod:`systole.sim.axi_amaranth`): every cycle
``out = port.outputs(cycle)`` is driven, and after the clock edge ``port.step(cycle, sampled,
out)`` gets the master's values sampled at that edge (cocotb reads pre-edge values right after
``await RisingEdge(clk)``).

Simulation speed: each signal access costs several microseconds, so the adapter writes an output
only when its value changes and reads an input only when the core asks for it (``step`` looks at
``araddr`` only when ``arvalid`` and ``arready`` were high, and so on). When the port has nothing
to present and the master drives no ``*VALID``, the adapter sleeps until a ``VALID`` rises or the
core's next event (:meth:`~systole.sim.axi_slave.AxiSlavePort.next_event`) is due, instead of
waking Python every cycle. Skipping changes no timing: tests compare it cycle for cycle with
``skip_idle=False``.
"""

from __future__ import annotations

from typing import Any

import cocotb
from cocotb.task import Task
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_steps, get_sim_time

from .axi_slave import AxiSlavePort

__all__ = ["serve_axi", "AxiCocotbAdapter", "MASTER_SIGNALS", "SLAVE_SIGNALS"]

#: Signals the master drives (inputs of the slave), without the prefix.
MASTER_SIGNALS = ("arvalid", "araddr", "arid", "arlen", "awvalid", "awaddr", "awid", "awlen",
                  "wvalid", "wdata", "wlast", "rready", "bready")
#: Signals the slave drives.
SLAVE_SIGNALS = ("arready", "awready", "wready", "rvalid", "rdata", "rid", "rresp", "rlast",
                 "bvalid", "bid", "bresp")
_VALIDS = ("arvalid", "awvalid", "wvalid")


def _reader(handle) -> Any:
    """A function returning ``handle``'s current value as an int (cheapest form per width).

    A 1-bit signal that is X or Z reads as 0: Icarus shows X on registered outputs at the
    first clock edge, before the declaration initialisers have run.

    The value is read as the simulator's binary string (``get_signal_val_binstr`` of the
    handle's GPI object) and converted by ``int``: ``handle.value`` builds a ``LogicArray``
    and compares ``Logic`` objects, which took a third of a memory-bound GEMV's Python time.
    A wider signal with X or Z bits falls back to ``handle.value`` (and raises there, as
    before).
    """
    raw = getattr(handle, "_handle", None)
    if raw is None or not hasattr(raw, "get_signal_val_binstr"):
        if len(handle) == 1:
            return lambda: 1 if handle.value == 1 else 0
        return lambda: handle.value.to_unsigned()
    binstr = raw.get_signal_val_binstr
    if len(handle) == 1:
        return lambda: 1 if binstr() == "1" else 0

    def read() -> int:
        try:
            return int(binstr(), 2)
        except ValueError:
            return handle.value.to_unsigned()
    return read


class _Sampled(dict):
    """The master's values at the last edge, each read from the simulator on first use."""

    def __init__(self, readers: dict[str, Any]):
        super().__init__()
        self._readers = readers

    def __missing__(self, key: str) -> int:
        value = self[key] = self._readers[key]()
        return value


class AxiCocotbAdapter:
    """Drives and samples one AXI4 slave port of ``dut`` for an :class:`AxiSlavePort`.

    Parameters
    ----------
    port : AxiSlavePort
        The Python core (image, timing model, backpressure).
    dut : cocotb handle
        The design; signals are ``<prefix>_<name>``.
    prefix : str
        Port prefix, e.g. ``"m_axi0"``.
    clock : cocotb handle
        The clock the port is synchronous to (rising edge).
    period_ns : float
        Clock period, used to convert simulation time to cycles while sleeping.
    skip_idle : bool
        Sleep through cycles where nothing can happen (see the module docstring).

    Members
    -------
    cycle : int
        Cycles served since :meth:`start` (cycle 0 follows the first rising edge).
    wakeups : int
        Cycles in which Python ran (for measuring the effect of ``skip_idle``).
    """

    def __init__(self, port: AxiSlavePort, dut, prefix: str, clock, *, period_ns: float,
                 skip_idle: bool = True):
        self.port = port
        self.clock = clock
        self.skip_idle = skip_idle
        self.period = get_sim_steps(period_ns, "ns")
        self.inputs = {name: getattr(dut, f"{prefix}_{name}") for name in MASTER_SIGNALS}
        self.outputs = {name: getattr(dut, f"{prefix}_{name}") for name in SLAVE_SIGNALS}
        self._readers = {name: _reader(handle) for name, handle in self.inputs.items()}
        self._driven: dict[str, int] = {}
        self.cycle = 0
        self.wakeups = 0
        self._edge0 = 0
        for name, handle in self.outputs.items():
            handle.value = 0
            self._driven[name] = 0

    def start(self) -> Task:
        """Start serving in the background; returns the task."""
        return cocotb.start_soon(self._run())

    def _drive(self, out: dict[str, int]) -> None:
        driven = self._driven
        for name, value in out.items():
            if driven[name] != value:
                self.outputs[name].value = value
                driven[name] = value

    def _cycle_of_edge(self) -> int:
        """Index of the cycle that the rising edge at the current time starts."""
        return (get_sim_time("step") - self._edge0 + self.period // 2) // self.period

    async def _sleep(self, out: dict[str, int]) -> bool:
        """Sleep while the port is idle; return ``False`` at once if it is not.

        Called after driving ``out`` for ``self.cycle``. On return (``True``) the simulation is
        just past a rising edge and no cycle between ``self.cycle`` and that edge had a
        ``VALID`` from the master, so ``out`` stayed right for all of them.
        """
        if out["rvalid"] or out["bvalid"] or self.port.ready_probability < 1.0:
            return False
        due = self.port.next_event(self.cycle)
        if due is not None and due <= self.cycle + 1:
            return False
        await ReadOnly()                # the master's outputs for this cycle have settled
        if any(self._readers[name]() for name in _VALIDS):
            await RisingEdge(self.clock)
            return True
        triggers = [RisingEdge(self.inputs[name]) for name in _VALIDS]
        if due is not None:
            # Wake half a cycle before the edge that starts cycle ``due``.
            wake = self._edge0 + due * self.period - self.period // 2
            triggers.append(Timer(wake - get_sim_time("step"), "step"))
        await First(*triggers)
        await RisingEdge(self.clock)
        return True

    async def _run(self) -> None:
        port = self.port
        await RisingEdge(self.clock)
        self._edge0 = get_sim_time("step")
        self.cycle = 0
        while True:
            out = port.outputs(self.cycle)
            self._drive(out)
            self.wakeups += 1
            if self.skip_idle and await self._sleep(out):
                ended = self._cycle_of_edge() - 1
            else:
                await RisingEdge(self.clock)
                ended = self.cycle
            port.step(ended, _Sampled(self._readers), out)
            self.cycle = ended + 1


def serve_axi(port: AxiSlavePort, dut, prefix: str, clock, *, period_ns: float,
              skip_idle: bool = True) -> AxiCocotbAdapter:
    """Serve ``dut``'s AXI4 master port ``prefix`` (e.g. ``"m_axi0"``) from ``port``.

    Returns the started :class:`AxiCocotbAdapter`.
    """
    adapter = AxiCocotbAdapter(port, dut, prefix, clock, period_ns=period_ns,
                               skip_idle=skip_idle)
    adapter.start()
    return adapter
