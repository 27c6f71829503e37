"""Timing parameters and named presets of one HBM pseudo-channel and its controller.

All DRAM timings are integers in DRAM command-clock cycles (nCK, one cycle is ``tck_ns``). The
controller side (the AXI port the model serves) runs ``clock_ratio`` times slower and is
``controller_data_bits`` wide; :class:`~systole.sim.hbm.model.PseudoChannel` speaks controller
cycles at its interface and converts internally.

Sources for the presets (see :data:`PRESETS`):

- JEDEC JESD235A/B (HBM2): 2.0 Gb/s per pin, pseudo-channel mode with a 64-bit DDR data bus,
  burst length 4 (32 bytes per column access), 16 banks in 4 bank groups per pseudo-channel,
  1 KiB page per pseudo-channel, all-bank refresh every tREFI = 3.9 us.
- JEDEC JESD235C/D (HBM2E) and vendor announcements (Samsung "Flashbolt", 3.2 Gb/s; SK hynix
  3.6 Gb/s): same organisation as HBM2 at 3.2 Gb/s per pin.
- JEDEC JESD238 (HBM3) and the Synopsys HBM3 overview: 6.4 Gb/s per pin, 32-bit pseudo-channels
  with burst length 8 (still 32 bytes per column access).
- Per-bank refresh: the JESD235 family defines a single-bank refresh (REFSB; HBM3 calls it
  REFpb) next to the all-bank REFab. Every preset uses tRFCpb = 160 ns, tREFIpb = tREFI / 16
  banks (243.75 ns) and tRREFD = 8 ns (REFpb to REFpb or ACT of another bank), the values of
  Ramulator 2's HBM2 and HBM3 models (``nRFCSB`` = 160 and ``nRRefD`` = 8 at tCK = 1 ns; its
  tREFISB table gives 243.8 ns for 16-bank parts). tREFIpb is rounded down, so every bank is
  refreshed at least as often as all-bank refresh would.
- Array timings of the HBM2 set follow the public DRAMsim3 configuration
  ``configs/HBM2_8Gb_x128.ini`` (tCK = 1 ns: CL 14, WL 4, tRCD 14, tRP 14, tRAS 34, tRRD_S/L 4/6,
  tFAW 30, tWR 16, tRTP 4, tWTR_S/L 6/8, tRFC 260, tREFI 3900). The tRFC-by-density table
  (2/4/8/16 Gb per channel: 160/260/350/450 ns) is the one used by Ramulator 2's HBM2 model.

Representative, not from a specific part: the HBM2E and HBM3 array timings reuse the HBM2
nanosecond values converted at the faster clock (DRAM cores barely speed up between
generations); tCCD_S/L = 2/4 nCK everywhere; tRTW is derived as CL + burst + 2 - WL (two cycles
of bus turnaround); the controller clock, width and pipeline latency describe a generic
AXI-attached hard controller (Xilinx UltraScale+ HBM runs 256-bit AXI at half the HBM clock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["HBMTiming", "PRESETS"]

_POWER_OF_TWO = ("controller_data_bits", "dq_bits", "burst_length", "transfers_per_clock",
                 "bank_groups", "banks_per_group", "row_bytes", "rows")
_POSITIVE = ("dram_clock_mhz", "controller_clock_mhz", "t_cl", "t_rcd", "t_rp", "t_ras",
             "t_ccd_s", "t_rrd_s", "t_rfc", "t_refi")


@dataclass(frozen=True, kw_only=True)
class HBMTiming:
    """Organisation and timing of one HBM pseudo-channel plus its controller port.

    Parameters
    ----------
    name : str
        Label used in reports.
    dram_clock_mhz : int
        DRAM command clock (CK) in MHz.
    controller_clock_mhz : int
        Controller / AXI clock in MHz; must divide ``dram_clock_mhz``.
    controller_data_bits : int
        Width of the controller (AXI) data bus; one beat per controller cycle.
    dq_bits : int
        Data bus width of the pseudo-channel (64 for HBM2/2E, 32 for HBM3).
    burst_length : int
        DRAM burst length of one column access (4 for HBM2/2E, 8 for HBM3).
    transfers_per_clock : int
        Data transfers per CK (2 for DDR; 4 for HBM3, whose data strobes run at twice CK).
    bank_groups, banks_per_group : int
        Bank organisation (4 x 4 in every preset).
    row_bytes : int
        Page size of one bank in this pseudo-channel, in bytes.
    rows : int
        Rows per bank.
    t_cl, t_wl : int
        Read latency (RD to first data) and write latency (WR to first data), nCK.
    t_rcd, t_rp, t_ras : int
        ACT to column command, PRE to ACT, ACT to PRE; nCK.
    t_ccd_s, t_ccd_l : int
        Column to column command, different / same bank group; nCK.
    t_rrd_s, t_rrd_l : int
        ACT to ACT, different / same bank group; nCK.
    t_faw : int
        Window in which at most four ACTs may be issued; nCK.
    t_rtw : int
        RD to WR command turnaround; nCK.
    t_wtr_s, t_wtr_l : int
        End of write data to RD command, different / same bank group; nCK.
    t_rtp, t_wr : int
        RD to PRE; end of write data to PRE (write recovery); nCK.
    t_refi, t_rfc : int
        All-bank refresh interval and the time one refresh blocks the channel; nCK.
    t_refi_pb, t_rfc_pb, t_rrefd : int
        Per-bank refresh: interval between two per-bank refreshes (each to another bank, every
        bank once per round of ``banks`` refreshes), the time one blocks its bank, and the
        minimum distance from a per-bank refresh to the next one or to an ACT of another bank;
        nCK. All 0: the part has no per-bank refresh.
    ctrl_latency : int
        Controller front-end pipeline (address decode, queue insert) in controller cycles: a
        request submitted at cycle ``c`` is first seen by the scheduler at ``c + ctrl_latency``.

    Raises
    ------
    TypeError
        If a field has the wrong type; the message names the field.
    ValueError
        If a field is out of range or inconsistent with another; the message names the field and
        the value.
    """

    name: str = "custom"
    dram_clock_mhz: int
    controller_clock_mhz: int
    controller_data_bits: int = 256
    dq_bits: int = 64
    burst_length: int = 4
    transfers_per_clock: int = 2
    bank_groups: int = 4
    banks_per_group: int = 4
    row_bytes: int = 1024
    rows: int = 16384
    t_cl: int
    t_wl: int
    t_rcd: int
    t_rp: int
    t_ras: int
    t_ccd_s: int
    t_ccd_l: int
    t_rrd_s: int
    t_rrd_l: int
    t_faw: int
    t_rtw: int
    t_wtr_s: int
    t_wtr_l: int
    t_rtp: int
    t_wr: int
    t_refi: int
    t_rfc: int
    t_refi_pb: int = 0
    t_rfc_pb: int = 0
    t_rrefd: int = 0
    ctrl_latency: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"HBMTiming: name must be a str, got {self.name!r}")
        for f in fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"HBMTiming: {f.name} must be an int, got {value!r}")
            if value < 0:
                raise ValueError(f"HBMTiming: {f.name} must be >= 0, got {value}")
        for name in _POSITIVE:
            if getattr(self, name) < 1:
                raise ValueError(f"HBMTiming: {name} must be >= 1, got {getattr(self, name)}")
        for name in _POWER_OF_TWO:
            value = getattr(self, name)
            if value < 1 or value & (value - 1):
                raise ValueError(f"HBMTiming: {name} must be a power of two, got {value}")
        self._check_organisation()
        self._check_timing()

    def _fail(self, name: str, why: str) -> None:
        raise ValueError(f"HBMTiming: {name} {why}, got {getattr(self, name)}")

    def _check_organisation(self) -> None:
        if self.dram_clock_mhz % self.controller_clock_mhz:
            self._fail("controller_clock_mhz",
                       f"must divide dram_clock_mhz ({self.dram_clock_mhz}) evenly")
        if self.burst_length % self.transfers_per_clock:
            self._fail("burst_length",
                       f"must be a multiple of transfers_per_clock ({self.transfers_per_clock})")
        if (self.dq_bits * self.burst_length) % 8:
            self._fail("dq_bits", "times burst_length must be a whole number of bytes")
        access_bits = self.dq_bits * self.burst_length
        if self.controller_data_bits % access_bits:
            self._fail("controller_data_bits",
                       f"must be a multiple of dq_bits * burst_length ({access_bits})")
        if self.row_bytes < self.atom_bytes:
            self._fail("row_bytes", f"must hold at least one column access ({self.atom_bytes} B)")
        controller = self.controller_data_bits * self.controller_clock_mhz
        dram = self.dq_bits * self.transfers_per_clock * self.dram_clock_mhz
        if controller > dram:
            self._fail("controller_data_bits",
                       f"x controller_clock_mhz ({controller} Mb/s) exceeds the DRAM bandwidth "
                       f"({dram} Mb/s)")

    def _check_timing(self) -> None:
        if self.t_ccd_s < self.burst_cycles:
            self._fail("t_ccd_s", f"must be >= the data burst ({self.burst_cycles} nCK)")
        if self.t_ccd_l < self.t_ccd_s:
            self._fail("t_ccd_l", f"must be >= t_ccd_s ({self.t_ccd_s})")
        if self.t_rrd_l < self.t_rrd_s:
            self._fail("t_rrd_l", f"must be >= t_rrd_s ({self.t_rrd_s})")
        if self.t_wtr_l < self.t_wtr_s:
            self._fail("t_wtr_l", f"must be >= t_wtr_s ({self.t_wtr_s})")
        if self.t_ras < self.t_rcd:
            self._fail("t_ras", f"must be >= t_rcd ({self.t_rcd})")
        min_rtw = self.t_cl + self.burst_cycles - self.t_wl
        if self.t_rtw < min_rtw:
            self._fail("t_rtw", f"must be >= t_cl + burst - t_wl ({min_rtw}) to keep data apart")
        if self.t_refi <= self.t_rfc:
            self._fail("t_refi", f"must be > t_rfc ({self.t_rfc})")
        per_bank = (self.t_refi_pb, self.t_rfc_pb, self.t_rrefd)
        if any(per_bank) and not all(per_bank):
            self._fail("t_rfc_pb", "t_refi_pb and t_rrefd must be all set (per-bank refresh) "
                       f"or all 0 (t_refi_pb={self.t_refi_pb}, t_rrefd={self.t_rrefd})")
        if self.t_rfc_pb:
            if self.t_rfc_pb > self.t_rfc:
                self._fail("t_rfc_pb", f"must be <= t_rfc ({self.t_rfc})")
            if self.t_refi_pb * self.banks > self.t_refi:
                self._fail("t_refi_pb", f"x {self.banks} banks must be <= t_refi ({self.t_refi}) "
                           "so that every bank is refreshed as often as with all-bank refresh")

    # Derived quantities ----------------------------------------------------------------------

    @property
    def clock_ratio(self) -> int:
        """DRAM command-clock cycles per controller cycle."""
        return self.dram_clock_mhz // self.controller_clock_mhz

    @property
    def tck_ns(self) -> float:
        """DRAM command-clock period in ns."""
        return 1000.0 / self.dram_clock_mhz

    @property
    def burst_cycles(self) -> int:
        """nCK the data bus is busy for one column access."""
        return self.burst_length // self.transfers_per_clock

    @property
    def atom_bytes(self) -> int:
        """Bytes moved by one column access (RD or WR)."""
        return self.dq_bits * self.burst_length // 8

    @property
    def beat_bytes(self) -> int:
        """Bytes in one controller (AXI) data beat."""
        return self.controller_data_bits // 8

    @property
    def atoms_per_beat(self) -> int:
        """Column accesses needed for one controller beat."""
        return self.beat_bytes // self.atom_bytes

    @property
    def banks(self) -> int:
        """Banks in the pseudo-channel."""
        return self.bank_groups * self.banks_per_group

    @property
    def t_rc(self) -> int:
        """ACT to ACT in the same bank (tRAS + tRP), nCK."""
        return self.t_ras + self.t_rp

    @property
    def per_bank_refresh(self) -> bool:
        """Whether the part supports per-bank refresh (``t_rfc_pb`` set)."""
        return self.t_rfc_pb > 0

    @property
    def capacity_bytes(self) -> int:
        """Bytes addressable in the pseudo-channel."""
        return self.banks * self.rows * self.row_bytes

    @property
    def peak_bytes_per_cycle(self) -> int:
        """Peak bytes per controller cycle at the controller port (one beat)."""
        return self.beat_bytes

    @property
    def peak_gbytes_per_s(self) -> float:
        """Peak bandwidth of the controller port in GB/s (10^9 bytes per second)."""
        return self.beat_bytes * self.controller_clock_mhz / 1000.0

    @property
    def peak_gbps(self) -> float:
        """Peak bandwidth of the controller port in Gb/s (10^9 bits per second)."""
        return self.controller_data_bits * self.controller_clock_mhz / 1000.0

    @property
    def dram_peak_gbytes_per_s(self) -> float:
        """Peak bandwidth of the DRAM data pins of the pseudo-channel in GB/s."""
        return self.dq_bits * self.transfers_per_clock * self.dram_clock_mhz / 8000.0


def _nck(ns: float, clock_mhz: int) -> int:
    """Nanoseconds to whole clock cycles, rounded up as JEDEC does (with a float guard)."""
    return math.ceil(ns * clock_mhz / 1000.0 - 1e-6)


def _preset(name: str, *, dram_clock_mhz: int, controller_clock_mhz: int, dq_bits: int,
            burst_length: int, transfers_per_clock: int, rows: int, t_rfc_ns: float,
            t_wl_ns: float) -> HBMTiming:
    """Build a preset from nanosecond array timings shared by every generation."""
    def c(ns: float) -> int:
        return _nck(ns, dram_clock_mhz)

    burst_cycles = burst_length // transfers_per_clock
    t_cl, t_wl = c(14), c(t_wl_ns)
    return HBMTiming(
        name=name, dram_clock_mhz=dram_clock_mhz, controller_clock_mhz=controller_clock_mhz,
        controller_data_bits=256, dq_bits=dq_bits, burst_length=burst_length,
        transfers_per_clock=transfers_per_clock, bank_groups=4, banks_per_group=4,
        row_bytes=1024, rows=rows,
        t_cl=t_cl, t_wl=t_wl, t_rcd=c(14), t_rp=c(14), t_ras=c(34),
        t_ccd_s=2, t_ccd_l=4, t_rrd_s=c(4), t_rrd_l=c(6), t_faw=c(30),
        t_rtw=t_cl + burst_cycles + 2 - t_wl, t_wtr_s=c(6), t_wtr_l=c(8),
        t_rtp=c(4), t_wr=c(16), t_refi=c(3900), t_rfc=c(t_rfc_ns),
        t_refi_pb=c(3900) // 16, t_rfc_pb=c(160), t_rrefd=c(8),
        ctrl_latency=2,
    )


#: Named presets. Per pseudo-channel; every one has a 256-bit controller port at half the DRAM
#: command clock, which exactly matches the pin bandwidth:
#:
#: ======  =======  =====  ====  ==========  ==========  ============  ===============
#: name    Gb/pin   CK     DQ    burst       AXI         peak GB/s     tRFC (density)
#: ======  =======  =====  ====  ==========  ==========  ============  ===============
#: hbm2    2.0      1000   64    BL4 (DDR)   256 @ 500   16.0          260 ns (4 Gb/ch)
#: hbm2e   3.2      1600   64    BL4 (DDR)   256 @ 800   25.6          350 ns (8 Gb/ch)
#: hbm3    6.4      1600   32    BL8 (4/CK)  256 @ 800   25.6          350 ns (8 Gb/ch)
#: ======  =======  =====  ====  ==========  ==========  ============  ===============
#:
#: Every preset supports per-bank refresh (tRFCpb 160 ns every tREFI / 16), which
#: :class:`~systole.sim.hbm.PseudoChannel` uses by default.
PRESETS: dict[str, HBMTiming] = {
    "hbm2": _preset("hbm2", dram_clock_mhz=1000, controller_clock_mhz=500, dq_bits=64,
                    burst_length=4, transfers_per_clock=2, rows=16384, t_rfc_ns=260,
                    t_wl_ns=4),
    "hbm2e": _preset("hbm2e", dram_clock_mhz=1600, controller_clock_mhz=800, dq_bits=64,
                     burst_length=4, transfers_per_clock=2, rows=32768, t_rfc_ns=350,
                     t_wl_ns=4),
    "hbm3": _preset("hbm3", dram_clock_mhz=1600, controller_clock_mhz=800, dq_bits=32,
                    burst_length=8, transfers_per_clock=4, rows=32768, t_rfc_ns=350,
                    t_wl_ns=4),
}
