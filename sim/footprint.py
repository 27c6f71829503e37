"""What an instruction touches, and who touched it last: the basis of hazard and race checks.

:func:`footprint` lists the buffer words and memory beats a decoded instruction reads and writes.
:class:`Shadow` remembers, for every word and beat, the latest access of each unit; it answers
"which instruction of unit ``u`` is the latest one this access conflicts with". The token checker
(:mod:`systole.sim.tokens`) and the compiler's token assignment (:mod:`systole.compiler`) both
build on it, so the two agree on what a hazard is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..hw.config import SystoleConfig
from ..hw.isa import Buffer, Opcode, PostProcDst, Unit

__all__ = ["Access", "SPACES", "footprint", "Shadow", "word_bytes"]

#: Address spaces: the four on-chip data buffers (in words) and memory (in beats).
SPACES = ("act", "weight", "acc", "param", "tile", "mem")

_LOAD_KIND = {Buffer.ACT: "act", Buffer.WEIGHT: "weight", Buffer.PARAM: "param",
              Buffer.TILE: "tile"}

_READ, _WRITE = 0, 1
_PAGE_BITS = 12


@dataclass(frozen=True)
class Access:
    """One read or write of a set of buffer words (``act``, ``weight``, ``acc``) or memory beats.

    ``words`` are word indices for a buffer, beat indices (byte address // beat) for ``mem``.
    """

    space: str
    words: np.ndarray
    write: bool


@lru_cache(maxsize=64)
def word_bytes(config: SystoleConfig, kind: str) -> int:
    """``config.word_bytes(kind)``, cached (the models ask for it per instruction)."""
    return config.word_bytes(kind)


def _mem_beats(config: SystoleConfig, mem_addr: int, rows: int, stride: int, kind: str
               ) -> np.ndarray:
    beat = config.memory.data_bytes
    per_row = word_bytes(config, kind) // beat
    starts = (mem_addr + np.arange(rows, dtype=np.int64) * stride) // beat
    return (starts[:, None] + np.arange(per_row, dtype=np.int64)).ravel()


def _range(start: int, count: int) -> np.ndarray:
    return np.arange(start, start + count, dtype=np.int64)


def footprint(fields: dict, config: SystoleConfig) -> list[Access]:
    """Buffer words and memory beats a decoded, legal instruction reads and writes.

    SYNC and HALT touch nothing. A non-accumulating MATMUL or MATVEC only writes its
    accumulator words.
    """
    opcode = fields["opcode"]
    if opcode == Opcode.LOAD:
        kind = _LOAD_KIND[Buffer(fields["buffer"])]
        return [Access("mem", _mem_beats(config, fields["mem_addr"], fields["rows"],
                                         fields["stride"], kind), write=False),
                Access(kind, _range(fields["buf_addr"], fields["rows"]), write=True)]
    if opcode == Opcode.MATMUL:
        accesses = [Access("act", _range(fields["act_addr"], fields["rows"]), write=False),
                    Access("weight", _range(fields["weight_addr"], config.array.rows),
                           write=False)]
        acc = _range(fields["acc_addr"], fields["rows"])
        if fields["accumulate"]:
            accesses.append(Access("acc", acc, write=False))
        accesses.append(Access("acc", acc, write=True))
        return accesses
    if opcode == Opcode.MATVEC:
        accesses = [Access("act", _range(fields["act_addr"], 1), write=False),
                    Access("tile", _range(fields["tile_addr"], fields["tiles"]), write=False)]
        acc = _range(fields["acc_addr"], fields["tiles"])
        if fields["accumulate"]:
            accesses.append(Access("acc", acc, write=False))
        accesses.append(Access("acc", acc, write=True))
        return accesses
    if opcode == Opcode.STORE:
        return [Access("acc", _range(fields["acc_addr"], fields["rows"]), write=False),
                Access("mem", _mem_beats(config, fields["mem_addr"], fields["rows"],
                                         fields["stride"], "acc"), write=True)]
    if opcode == Opcode.POSTPROC:
        dst = "act" if fields["dst"] == PostProcDst.ACT else "acc"
        return [Access("acc", _range(fields["acc_addr"], fields["rows"]), write=False),
                Access("param", _range(fields["param_addr"], 1), write=False),
                Access(dst, _range(fields["dst_addr"], fields["rows"]), write=True)]
    return []


class Shadow:
    """Latest read and latest write of every unit, per buffer word and memory beat.

    Accesses are recorded with the unit-local index of the instruction (its position among the
    instructions its unit executes). Memory is tracked sparsely in pages of beats.
    """

    def __init__(self, config: SystoleConfig):
        depths = {"act": config.buffers.act_depth, "weight": config.buffers.weight_depth,
                  "acc": config.buffers.acc_depth, "param": config.buffers.param_depth,
                  "tile": config.buffers.tile_depth}
        self._buffers = {space: np.full((2, len(Unit), depth), -1, dtype=np.int64)
                         for space, depth in depths.items()}
        self._pages: dict[int, np.ndarray] = {}

    def _chunks(self, access: Access, create: bool):
        """Yield ``(table, local indices)`` pairs covering the words of ``access``."""
        if not len(access.words):
            return
        if access.space != "mem":   # buffer accesses are contiguous ranges: use a view
            yield self._buffers[access.space], slice(access.words[0], access.words[-1] + 1)
            return
        pages = access.words >> _PAGE_BITS
        first, last = pages.min(), pages.max()
        for page in (first,) if first == last else np.unique(pages):
            table = self._pages.get(int(page))
            if table is None:
                if not create:
                    continue
                table = np.full((2, len(Unit), 1 << _PAGE_BITS), -1, dtype=np.int64)
                self._pages[int(page)] = table
            words = access.words if first == last else access.words[pages == page]
            yield table, words & ((1 << _PAGE_BITS) - 1)

    def conflicts(self, unit: int, accesses: list[Access]) -> dict[int, tuple[int, str]]:
        """Latest conflicting instruction of every other unit, as ``{unit: (index, space)}``.

        A read conflicts with earlier writes; a write with earlier reads and writes. Units
        without a conflict are absent.
        """
        found: dict[int, tuple[int, str]] = {}
        for access in accesses:
            for table, words in self._chunks(access, create=False):
                if access.write:
                    latest = table[:, :, words].max(axis=(0, 2))
                else:
                    latest = table[_WRITE][:, words].max(axis=1)
                for other in range(len(Unit)):
                    if other == unit or latest[other] < 0:
                        continue
                    if other not in found or latest[other] > found[other][0]:
                        found[other] = (int(latest[other]), access.space)
        return found

    def record(self, unit: int, index: int, accesses: list[Access]) -> None:
        """Record the accesses of instruction ``index`` (unit-local) of ``unit``."""
        for access in accesses:
            kind = _WRITE if access.write else _READ
            for table, words in self._chunks(access, create=True):
                table[kind, unit, words] = index
