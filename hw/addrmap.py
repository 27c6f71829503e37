"""Global address map: byte addresses interleaved across pseudo-channels.

Granule ``g = addr // interleave`` lives in channel ``g % channels`` at local byte address
``(g // channels) * interleave + addr % interleave``. Both sizes are powers of two, so the
mapping is bit selection: the channel is ``addr[log2(interleave):][:log2(channels)]`` and the
local address removes those bits. The same functions serve the hardware (Amaranth values) and
the models (Python ints, numpy arrays).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Value
from amaranth.utils import exact_log2

from .config import MemoryConfig

__all__ = ["AddressMap"]


class AddressMap:
    """Channel and local address of a global byte address, for ``config``."""

    def __init__(self, config: MemoryConfig):
        self.config = config
        self.granule_bits = exact_log2(config.interleave)
        self.channel_bits = exact_log2(config.channels)

    # Python / numpy
    def channel(self, addr):
        return (addr >> self.granule_bits) & (self.config.channels - 1)

    def local(self, addr):
        low = addr & (self.config.interleave - 1)
        return ((addr >> (self.granule_bits + self.channel_bits)) << self.granule_bits) | low

    def global_addr(self, channel, local):
        low = local & (self.config.interleave - 1)
        high = local >> self.granule_bits
        return (((high << self.channel_bits) | channel) << self.granule_bits) | low

    # Amaranth
    def channel_of(self, addr: Value) -> Value:
        if self.channel_bits == 0:
            return addr[:0]
        return addr[self.granule_bits:self.granule_bits + self.channel_bits]

    def local_of(self, addr: Value) -> Value:
        return Cat(addr[:self.granule_bits], addr[self.granule_bits + self.channel_bits:])
