"""AXI4 slave block RAM: on-chip memory standing in for an HBM pseudo-channel on FPGA boards.

One ``lib.memory.Memory`` of ``size`` bytes, ``data_width`` bits per word, written with byte
strobes. The read and the write port share one address, so the memory maps to single-port RAM
too (iCE40 SPRAM) and to one block-RAM port pair elsewhere. A second, byte-wide host port (the
UART bridge) reads and writes single bytes between AXI bursts.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import data, enum, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from .axi import RESP_OKAY, AxiParams, AxiSignature
from .params import check_choice

__all__ = ["AxiBram", "host_cmd_layout", "RAMS", "SPRAM_WORDS"]

RAMS = ("generic", "ice40_spram")
#: Words of one iCE40UP SPRAM (16 bits wide).
SPRAM_WORDS = 16 * 1024
#: Read beats a pipelined memory reads ahead of R (its FIFO): a read's request to its beat
#: on R is 6 cycles, so 8 keep one beat per cycle.
READ_AHEAD = 8


class Access(enum.Enum, shape=3):
    """The block RAM access of a pipelined :class:`AxiBram` this cycle."""
    NONE = 0
    WRITE = 1           # a W beat, when W is valid
    READ = 2            # a read beat, when the read-ahead has room
    HOST_WRITE = 3
    HOST_READ = 4


def host_cmd_layout(addr_width: int) -> data.StructLayout:
    """A host byte access: ``write`` ``data`` at byte ``addr``, or read it (``write`` = 0)."""
    return data.StructLayout({"addr": addr_width, "data": 8, "write": 1})


class AxiBram(wiring.Component):
    """Burst-capable AXI4 slave memory with a byte-wide host port.

    Parameters
    ----------
    params : AxiParams
        The port (``data_width``; local byte addresses of ``addr_width`` bits).
    size : int
        Bytes, a power of two, at least one word; addresses wrap at ``size``.
    ram : str
        ``"generic"`` (``lib.memory``, inferred as block RAM) or ``"ice40_spram"`` (iCE40UP
        SB_SPRAM256KA instances, 16 bits x 16 Ki words each; ``size`` at most 16 Ki words).
    pipelined : bool
        Registers around the block RAM for a fast clock: the memory's address comes from a
        register only (host accesses load it first, one cycle more each); every access
        reaches the block RAMs from a request stage of registers, a cycle after the FSM
        decides it, its write enables straight from registers, and the read port reads every
        cycle (a constant clock enable); each word read is registered (in the ECP5 block
        RAMs' output registers) and read beats go out on R through a FIFO of
        :data:`READ_AHEAD` beats, read ahead as far as it has room; a host read's byte is
        selected from the registered word in two steps. A large memory's address fans out to
        every block RAM (64 DP16KD for the ULX3S's 128 KiB), and the multiplexer in front of
        it (host command or burst address) was the ULX3S build's longest path, later the
        block RAMs' output multiplexer into the byte select, then the write and read enables
        (3 ns of routing to 64 block RAMs across the die), which now come from the request
        stage, and then the clock enable decoded there, now constant. ``False`` (default)
        saves the registers' logic cells (the iCEBreaker).

    Members
    -------
    axi : In(AxiSignature(params))
        INCR bursts of full-width beats (the chip's DMA issues nothing else), one burst at a
        time; writes before reads when both wait. Responses are always OKAY.
    host : In(stream.Signature(host_cmd_layout(addr_width)))
        Byte reads and writes, served when no burst is in progress.
    host_rsp : Out(stream.Signature(8))
        One response per host command: the byte read (0 for a write).

    Latency
    -------
    Reads: first beat 2 cycles after AR (6 with ``pipelined``), then one beat per cycle while
    R is ready. Writes: one beat per cycle from the cycle after AW; B the cycle after the last
    beat (with ``pipelined`` that beat is then in the request stage, and any later access
    follows it there). Host: response 1 (write) or 2 (read) cycles after the command, one more
    (write) or four more (read) with ``pipelined``.
    """

    def __init__(self, params: AxiParams, size: int, *, ram: str = "generic",
                 pipelined: bool = False):
        if size & (size - 1) or size < params.data_bytes:
            raise ValueError(f"size must be a power of two of at least one word, not {size}")
        check_choice("ram", ram, RAMS)
        if ram == "ice40_spram" and size > SPRAM_WORDS * params.data_bytes:
            raise ValueError(f"size must be at most {SPRAM_WORDS} words "
                             f"({SPRAM_WORDS * params.data_bytes} bytes) for ice40_spram, "
                             f"not {size}")
        if not isinstance(pipelined, bool):
            raise TypeError(f"pipelined must be a bool, not {pipelined!r}")
        self.params = params
        self.size = size
        self.ram = ram
        self.pipelined = pipelined
        self.addr_width = exact_log2(size)
        super().__init__({
            "axi": In(AxiSignature(params)),
            "host": In(stream.Signature(host_cmd_layout(self.addr_width))),
            "host_rsp": Out(stream.Signature(8)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.params
        beat_bits = exact_log2(p.data_bytes)
        depth = self.size // p.data_bytes
        word_bits = exact_log2(depth)
        write, read = self._ram(m, depth)
        if self.pipelined:
            # The FSM's accesses reach the block RAMs a cycle later, from a request stage of
            # registers (below): its write and read here are the stage's inputs. The read has
            # no enable: the port reads every cycle.
            ports = SimpleNamespace(write=write, read=read)
            write = SimpleNamespace(addr=Signal(word_bits), data=Signal(p.data_width),
                                    en=Signal(p.data_bytes))
            read = SimpleNamespace(addr=write.addr, data=ports.read.data)
        addr = Signal(word_bits)                 # the one address of both ports
        m.d.comb += [write.addr.eq(addr), read.addr.eq(addr)]

        axi = self.axi
        burst_addr = Signal(word_bits)
        if self.pipelined:
            m.d.comb += addr.eq(burst_addr)
            host_write = Signal()
            host_data = Signal(8)
        burst_id = Signal(p.id_width)
        remaining = Signal(9)                     # beats still to read from the memory
        r_last = Signal()
        lane = Signal(beat_bits)
        rsp = Signal(8)

        if self.pipelined:
            # Read beats: every word read lands in ``word`` the cycle after it is on the port
            # (one flip-flop per block RAM output, always enabled and without reset, so that
            # the ECP5 build moves it into the block RAMs' output registers: systole.outreg),
            # then in a FIFO that R drains. A burst reads ahead as far as the FIFO has room
            # for every word in flight (``credits``). A host read's word comes through
            # ``word`` too.
            word = Signal(p.data_width, reset_less=True)
            host_word = word
            m.submodules.beats = beats = fifo.SyncFIFOBuffered(width=p.data_width + 1,
                                                               depth=READ_AHEAD)
            credits = Signal(range(READ_AHEAD + 1))     # words asked for and not yet on R
            last = Signal()                             # the beat asked for ends the burst
            # A beat in the request stage, on the port, in ``word``; with R's ``last``.
            in_req, in_port, in_word = Signal(), Signal(), Signal()
            last_req, last_port, last_word = Signal(), Signal(), Signal()
            popped = axi.r.valid & axi.r.ready
            m.d.comb += [beats.w_en.eq(in_word), beats.w_data.eq(Cat(word, last_word)),
                         axi.r.valid.eq(beats.r_rdy), beats.r_en.eq(axi.r.ready)]
            r_data, r_last_out = beats.r_data[:p.data_width], beats.r_data[-1]
        else:
            r_data, r_last_out = read.data, r_last
        m.d.comb += [axi.r.payload.data.eq(r_data), axi.r.payload.id.eq(burst_id),
                     axi.r.payload.resp.eq(RESP_OKAY), axi.r.payload.last.eq(r_last_out),
                     axi.b.payload.id.eq(burst_id), axi.b.payload.resp.eq(RESP_OKAY),
                     self.host_rsp.payload.eq(rsp)]

        if self.pipelined:
            # The write data from a register's select alone (the enables say when it is
            # written): W's beat, or the host's byte on every lane during a host write.
            m.d.comb += write.data.eq(Mux(host_write, host_data.replicate(p.data_bytes),
                                          axi.w.payload.data))
            # The write enables from a register of their own (``access``), not from the FSM's
            # state decode. ``more``: a read burst's beats still to read (remaining != 0).
            access = Signal(Access)
            more = Signal()
            host_we = Signal(p.data_bytes)              # the host write's lane
            issue = (access == Access.READ) & more & (credits != READ_AHEAD)
            m.d.comb += [
                write.en.eq(Mux(access == Access.WRITE,
                                Mux(axi.w.valid, axi.w.payload.strb, 0),
                                Mux(access == Access.HOST_WRITE, host_we, 0))),
                axi.w.ready.eq(access == Access.WRITE),
                last.eq(remaining == 1),
            ]
            # The request stage: the block RAMs' address, data and write enables straight from
            # registers. The read port reads every cycle (its word is taken at a fixed latency
            # behind ``in_req``, and the address does not move while a host read waits for its
            # byte), so that its clock enable is constant: decoded from the access, it was the
            # ULX3S build's longest path (one net to 64 DP16KD across the die).
            m.d.sync += [
                ports.write.addr.eq(write.addr), ports.read.addr.eq(read.addr),
                ports.write.data.eq(write.data), ports.write.en.eq(write.en),
                word.eq(read.data),
                in_req.eq(issue), in_port.eq(in_req), in_word.eq(in_port),
                last_req.eq(last), last_port.eq(last_req), last_word.eq(last_port),
                credits.eq(credits + issue - popped),
            ]
            m.d.comb += ports.read.en.eq(1)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += axi.aw.ready.eq(1)
                with m.If(axi.aw.valid):
                    m.d.sync += [burst_addr.eq(axi.aw.payload.addr[beat_bits:]),
                                 burst_id.eq(axi.aw.payload.id)]
                    if self.pipelined:
                        m.d.sync += access.eq(Access.WRITE)
                    m.next = "WRITE"
                with m.Elif(axi.ar.valid):
                    m.d.comb += axi.ar.ready.eq(1)
                    m.d.sync += [burst_addr.eq(axi.ar.payload.addr[beat_bits:]),
                                 burst_id.eq(axi.ar.payload.id),
                                 remaining.eq(axi.ar.payload.len + 1)]
                    if self.pipelined:
                        m.d.sync += [access.eq(Access.READ), more.eq(1)]
                    m.next = "READ"
                with m.Elif(self.host.valid):
                    m.d.comb += self.host.ready.eq(1)
                    cmd = self.host.payload
                    m.d.sync += lane.eq(cmd.addr[:beat_bits])
                    if self.pipelined:
                        m.d.sync += [burst_addr.eq(cmd.addr[beat_bits:]),
                                     host_write.eq(cmd.write), host_data.eq(cmd.data),
                                     host_we.eq(Const(1, p.data_bytes) << cmd.addr[:beat_bits]),
                                     access.eq(Mux(cmd.write, Access.HOST_WRITE,
                                                   Access.HOST_READ))]
                        m.next = "HOST"
                    else:
                        m.d.comb += addr.eq(cmd.addr[beat_bits:])
                        with m.If(cmd.write):
                            m.d.comb += [write.data.eq(cmd.data.replicate(p.data_bytes)),
                                         write.en.eq(Const(1, p.data_bytes)
                                                     << cmd.addr[:beat_bits])]
                            m.d.sync += rsp.eq(0)
                            m.next = "HOST_RSP"
                        with m.Else():
                            m.d.comb += read.en.eq(1)
                            m.next = "HOST_READ"
            if self.pipelined:
                with m.State("HOST"):
                    # (``access`` writes or reads; ``host_write`` selects the write data)
                    m.d.sync += [host_write.eq(0), access.eq(Access.NONE)]
                    with m.If(host_write):
                        m.d.sync += rsp.eq(0)
                        m.next = "HOST_RSP"
                    with m.Else():
                        m.next = "HOST_WAIT"
                with m.State("HOST_WAIT"):          # the request stage
                    m.next = "HOST_READ"
            with m.State("WRITE"):
                if not self.pipelined:
                    m.d.comb += axi.w.ready.eq(1)
                m.d.comb += addr.eq(burst_addr)
                with m.If(axi.w.valid):
                    if not self.pipelined:
                        m.d.comb += [write.data.eq(axi.w.payload.data),
                                     write.en.eq(axi.w.payload.strb)]
                    m.d.sync += burst_addr.eq(burst_addr + 1)
                    with m.If(axi.w.payload.last):
                        if self.pipelined:
                            m.d.sync += access.eq(Access.NONE)
                        m.next = "WRITE_RSP"
            with m.State("WRITE_RSP"):
                m.d.comb += axi.b.valid.eq(1)
                with m.If(axi.b.ready):
                    m.next = "IDLE"
            with m.State("READ"):
                # Valid-ready pipeline over the synchronous read port: a beat is read when the
                # port's word is not waiting or moves on; the port holds its data otherwise.
                if not self.pipelined:
                    port_valid = Signal(name="r_valid")
                    r_valid, drain = port_valid, axi.r.ready
                    m.d.comb += axi.r.valid.eq(r_valid)
                    issue = (remaining != 0) & (~port_valid | drain)
                    m.d.comb += read.en.eq(issue)
                m.d.comb += addr.eq(burst_addr)
                if self.pipelined:
                    with m.If(issue):
                        m.d.sync += [burst_addr.eq(burst_addr + 1),
                                     remaining.eq(remaining - 1), more.eq(remaining != 1)]
                    with m.If(popped & r_last_out):
                        m.d.sync += access.eq(Access.NONE)
                        m.next = "IDLE"
                else:
                    with m.If(issue):
                        m.d.sync += [burst_addr.eq(burst_addr + 1),
                                     remaining.eq(remaining - 1),
                                     r_last.eq(remaining == 1), port_valid.eq(1)]
                    with m.Elif(drain):
                        m.d.sync += port_valid.eq(0)
                    with m.If(r_valid & axi.r.ready & r_last_out):
                        m.d.sync += r_last.eq(0)
                        m.next = "IDLE"
            with m.State("HOST_READ"):
                if self.pipelined:
                    # The word is on the port and ``word`` takes it; the byte is selected from
                    # there (the block RAMs' output multiplexer and the byte select in one
                    # cycle were the ULX3S build's longest path).
                    m.next = "HOST_BYTE"
                else:
                    m.d.sync += rsp.eq(read.data.word_select(lane, 8))
                    m.next = "HOST_RSP"
            if self.pipelined:
                # The byte in two steps, half the word and then the byte of it: the word
                # comes from block RAMs all over the chip (their output registers).
                half_bits = max(8, p.data_width // 2)
                host_half = Signal(half_bits, reset_less=True)
                with m.State("HOST_BYTE"):
                    m.d.sync += host_half.eq(host_word.word_select(lane[-1], half_bits)
                                             if beat_bits else host_word)
                    m.next = "HOST_HALF"
                with m.State("HOST_HALF"):
                    m.d.sync += rsp.eq(host_half.word_select(lane[:-1], 8)
                                       if beat_bits > 1 else host_half)
                    m.next = "HOST_RSP"
            with m.State("HOST_RSP"):
                m.d.comb += self.host_rsp.valid.eq(1)
                with m.If(self.host_rsp.ready):
                    m.next = "IDLE"
        return m

    def _ram(self, m: Module, depth: int):
        """Write port (``addr``, ``data``, byte ``en``) and read port (``addr``, ``en``,
        ``data`` one cycle later, held while ``en`` is low) sharing one address."""
        p = self.params
        if self.ram == "generic":
            m.submodules.mem = mem = memory.Memory(shape=p.data_width, depth=depth, init=[])
            return mem.write_port(granularity=8), mem.read_port()
        write = SimpleNamespace(addr=Signal(range(depth)), data=Signal(p.data_width),
                                en=Signal(p.data_bytes))
        read = SimpleNamespace(addr=write.addr, en=Signal(), data=Signal(p.data_width))
        for lane in range(p.data_width // 16):
            enables = write.en[2 * lane:2 * lane + 2]
            m.submodules[f"spram{lane}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=write.addr.as_unsigned() if depth == SPRAM_WORDS
                else Cat(write.addr, Const(0, exact_log2(SPRAM_WORDS // depth))),
                i_DATAIN=write.data[16 * lane:16 * lane + 16],
                # One MASKWREN bit per nibble: two per byte.
                i_MASKWREN=Cat(enables[0], enables[0], enables[1], enables[1]),
                i_WREN=write.en.any(), i_CHIPSELECT=write.en.any() | read.en,
                i_CLOCK=ClockSignal(), i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1),
                i_POWEROFF=Const(1, 1), o_DATAOUT=read.data[16 * lane:16 * lane + 16])
        return write, read
