"""Byte address to (bank group, bank, row, column) mapping inside one HBM pseudo-channel.

Two layouts, low bits first (``A`` = bytes of one column access, 32 B in every preset)::

    bg_interleave=True  (default):  | A byte | bank group | column | bank | row |
    bg_interleave=False:            | A byte | column | bank group | bank | row |

With the default, consecutive 32-byte column accesses rotate through the bank groups, so a
burst (and a sequential stream) issues its column commands at tCCD_S instead of tCCD_L. This is
what vendor controllers call bank-group interleaving. The second layout keeps a burst of up to a
page in one bank: consecutive *bursts* alternate bank groups, but the beats of one burst are
spaced by tCCD_L (half the peak rate with tCCD_L = 2 tCCD_S), which the tests demonstrate.

In both layouts an aligned 4 KiB block covers one page in each of four bank groups (presets), so a
burst that does not cross 4 KiB opens at most one row per bank.
"""

from __future__ import annotations

from .timing import HBMTiming

__all__ = ["AddressMap"]


class AddressMap:
    """Decode and encode byte addresses of one pseudo-channel.

    Parameters
    ----------
    timing : HBMTiming
        Organisation (bank groups, banks, page size, rows, column access size).
    bg_interleave : bool
        Put the bank-group bits directly above the column-access offset (see module docstring).
    """

    def __init__(self, timing: HBMTiming, *, bg_interleave: bool = True) -> None:
        self.timing = timing
        self.bg_interleave = bool(bg_interleave)
        self.atom_shift = timing.atom_bytes.bit_length() - 1
        self.bg_bits = timing.bank_groups.bit_length() - 1
        self.col_bits = (timing.row_bytes // timing.atom_bytes).bit_length() - 1
        self.bank_bits = timing.banks_per_group.bit_length() - 1
        self.row_mask = timing.rows - 1

    def decode(self, addr: int) -> tuple[int, int, int, int]:
        """Split a byte address.

        Parameters
        ----------
        addr : int
            Byte address inside the pseudo-channel.

        Returns
        -------
        tuple of int
            ``(bank_group, bank, row, column)``; ``bank`` is the index inside its bank group and
            ``column`` counts column accesses (``atom_bytes`` each) inside the page.
        """
        a = addr >> self.atom_shift
        if self.bg_interleave:
            bg = a & ((1 << self.bg_bits) - 1)
            a >>= self.bg_bits
            col = a & ((1 << self.col_bits) - 1)
            a >>= self.col_bits
        else:
            col = a & ((1 << self.col_bits) - 1)
            a >>= self.col_bits
            bg = a & ((1 << self.bg_bits) - 1)
            a >>= self.bg_bits
        bank = a & ((1 << self.bank_bits) - 1)
        row = (a >> self.bank_bits) & self.row_mask
        return bg, bank, row, col

    def encode(self, bank_group: int, bank: int, row: int, column: int = 0) -> int:
        """Byte address of a column access; the inverse of :meth:`decode`.

        Raises
        ------
        ValueError
            If a coordinate is outside the organisation; the message names it.
        """
        t = self.timing
        for name, value, limit in (("bank_group", bank_group, t.bank_groups),
                                   ("bank", bank, t.banks_per_group), ("row", row, t.rows),
                                   ("column", column, 1 << self.col_bits)):
            if not 0 <= value < limit:
                raise ValueError(f"AddressMap.encode: {name} must be in [0, {limit}), got {value}")
        a = (row << self.bank_bits) | bank
        if self.bg_interleave:
            a = (((a << self.col_bits) | column) << self.bg_bits) | bank_group
        else:
            a = (((a << self.bg_bits) | bank_group) << self.col_bits) | column
        return a << self.atom_shift

    def atom_banks(self, addr: int, nbytes: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Flat bank index of every column access of a burst, and its distinct (bank, row) pairs.

        Parameters
        ----------
        addr, nbytes : int
            Burst start and length in bytes (whole column accesses).

        Returns
        -------
        banks : list of int
            ``bank_group * banks_per_group + bank`` for each column access, in address order.
        segments : list of (int, int)
            Distinct ``(flat_bank, row)`` pairs in first-touch order.
        """
        t = self.timing
        first = addr >> self.atom_shift
        last = (addr + nbytes - 1) >> self.atom_shift
        # Bits above bank group and column: bank, then row.
        upper = self.bg_bits + self.col_bits
        bg_shift = 0 if self.bg_interleave else self.col_bits
        bg_mask = (1 << self.bg_bits) - 1
        bank_mask = (1 << self.bank_bits) - 1
        per_group = t.banks_per_group
        if first >> upper == last >> upper:
            # Common case (always, for a burst inside 4 KiB with the presets): one bank index and
            # one row, only the bank group changes.
            x = first >> upper
            bank, row = x & bank_mask, (x >> self.bank_bits) & self.row_mask
            banks = [((a >> bg_shift) & bg_mask) * per_group + bank for a in range(first, last + 1)]
            return banks, [(flat, row) for flat in dict.fromkeys(banks)]
        banks = []
        rows: dict[int, int] = {}
        for a in range(first, last + 1):
            x = a >> upper
            flat = ((a >> bg_shift) & bg_mask) * per_group + (x & bank_mask)
            banks.append(flat)
            rows.setdefault(flat, (x >> self.bank_bits) & self.row_mask)
        return banks, list(rows.items())
