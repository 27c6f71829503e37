"""Multi-layer int8 programs: dense layers (GEMM + bias + requantisation + activation) chained
on the chip, and 2-D convolution lowered to them (im2col).

A :class:`Dense` layer maps int8 activations ``X`` (M x K) to int8 ``Y = requantize(X @ W)``
(:class:`~systole.quant.PostProcParams`, N output channels). :func:`compile_network` turns a
chain of layers into one program, in one of two ways:

* **on chip** (``mode="chip"``, chosen by ``"auto"`` when everything fits): the input is loaded
  once, every layer's int8 output goes from the accumulators through POSTPROC straight into the
  activation buffer, where the next layer's MATMULs read it (two halves used alternately); only
  the last layer's output is stored. Needs a square array (an N-tile of one layer is a K-tile of
  the next), ``M * K-tiles`` activation words per half, ``M * N-tiles`` accumulator words and
  all weights in the weight buffer.
* **through memory** (``mode="memory"``): each layer is tiled like :func:`compile_gemm` (any
  size), its accumulators post-processed in place before each STORE, and the next layer
  LOADs the stored int8 rows (one accumulator word apart) as its activations. A SYNC of the
  compute unit orders each layer's stores before the next layer's loads.

Parameter words of every layer are loaded at the start (a SYNC of the compute unit orders
them before the first POSTPROC). The output is int8, M x N of the last layer, in accumulator
words (``C`` int8 then zeros) per N-tile, like :class:`~systole.compiler.Program`'s C.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .compiler import _align, _Emitter, _pack, assign_tokens
from .hw.config import SystoleConfig, preset
from .hw.isa import INSTR_BYTES, Buffer, Opcode, PostProcDst, Unit, encode
from .quant import PostProcParams
from .sim.quant_image import param_words
from .tiling import plan_tiling

__all__ = ["Dense", "NetworkProgram", "compile_network", "reference_network", "conv2d_layer",
           "im2col", "conv2d_reference"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, eq=False)
class Dense:
    """``Y = requantize(X @ weights, params)``: int8 weights K x N, N-channel parameters."""

    weights: np.ndarray
    params: PostProcParams

    def __post_init__(self) -> None:
        w = self.weights
        if not isinstance(w, np.ndarray) or w.dtype != np.int8 or w.ndim != 2 or 0 in w.shape:
            raise TypeError("weights must be a non-empty 2-D numpy int8 array (K x N)")
        if self.params.channels != w.shape[1]:
            raise ValueError(f"params have {self.params.channels} channels, weights "
                             f"{w.shape[1]} columns")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        acc = x.astype(np.int64) @ self.weights.astype(np.int64)
        acc = ((acc + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)
        return self.params.apply(acc)


def reference_network(x: np.ndarray, layers: list[Dense]) -> np.ndarray:
    """The int8 result of the layers in numpy (the chip must equal it bit for bit)."""
    for layer in layers:
        x = layer(x)
    return x


def _pp_fields(params: PostProcParams) -> dict:
    return {"zero_point": params.zero_point & 0xFF, "act_min": params.act_min & 0xFF,
            "act_max": params.act_max & 0xFF}


@dataclass(frozen=True, eq=False)
class NetworkProgram:
    """A compiled chain of layers.

    Members
    -------
    config : SystoleConfig
    mode : str
        ``"chip"`` or ``"memory"``.
    instructions : tuple of int
    image : numpy.ndarray
        Memory image from address 0: input, weights, parameters, output space, program.
    prog_addr, out_addr : int
    m, n_out : int
        Rows and columns of the output.
    layer_vectors : list of int
        Activation vectors each layer sends through the array (for utilisation).
    layer_macs : list of int
        Useful multiply-accumulates per layer (M * K * N).
    """

    config: SystoleConfig
    mode: str
    instructions: tuple[int, ...]
    image: np.ndarray
    prog_addr: int
    out_addr: int
    m: int
    n_out: int
    layer_vectors: list[int] = field(default_factory=list)
    layer_macs: list[int] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(Opcode(w & 0xFF).name for w in self.instructions))

    def read_output(self, memory: np.ndarray) -> np.ndarray:
        """The int8 output (M x N of the last layer) from a final memory image."""
        cols, acc_bytes = self.config.array.cols, self.config.word_bytes("acc")
        tiles = _ceil_div(self.n_out, cols)
        region = np.asarray(memory, np.uint8)[self.out_addr:
                                              self.out_addr + tiles * self.m * acc_bytes]
        words = region.reshape(tiles, self.m, acc_bytes)[:, :, :cols].view(np.int8)
        return words.transpose(1, 0, 2).reshape(self.m, tiles * cols)[:, :self.n_out].copy()


class _Image:
    """A memory image under construction: regions appended on 4 KiB boundaries."""

    def __init__(self):
        self.parts: list[tuple[int, np.ndarray]] = []
        self.end = 0

    def add(self, data: np.ndarray | int) -> int:
        addr = _align(self.end)
        data = np.zeros(data, np.uint8) if isinstance(data, int) else data.ravel()
        self.parts.append((addr, data))
        self.end = addr + len(data)
        return addr

    def build(self, size: int) -> np.ndarray:
        image = np.zeros(size, np.uint8)
        for addr, data in self.parts:
            image[addr:addr + len(data)] = data
        return image


def _fits_on_chip(m: int, layers: list[Dense], config: SystoleConfig) -> bool:
    r, c, buf = config.array.rows, config.array.cols, config.buffers
    if r != c or m > (1 << 16) - 1:
        return False
    k_tiles = [_ceil_div(layer.weights.shape[0], r) for layer in layers]
    n_tiles = [_ceil_div(layer.weights.shape[1], c) for layer in layers]
    weights = sum(k * n * r for k, n in zip(k_tiles, n_tiles, strict=True))
    return (max(m * k for k in k_tiles + n_tiles) <= buf.act_depth // 2
            and m * max(n_tiles) <= buf.acc_depth and weights <= buf.weight_depth
            and sum(n_tiles) <= buf.param_depth)


def _check(x: np.ndarray, layers: list[Dense], config: SystoleConfig) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.int8 or x.ndim != 2 or 0 in x.shape:
        raise TypeError("x must be a non-empty 2-D numpy int8 array (M x K)")
    if not layers:
        raise ValueError("layers must not be empty")
    if not config.postproc:
        raise ValueError(f"config.postproc is False ({config.name!r} has no post-processing "
                         f"unit): network programs need POSTPROC")
    k = x.shape[1]
    for index, layer in enumerate(layers):
        if layer.weights.shape[0] != k:
            raise ValueError(f"layer {index} takes K = {layer.weights.shape[0]} inputs, "
                             f"gets {k}")
        k = layer.weights.shape[1]
    if len(layers) > 1 and config.array.rows != config.array.cols:
        raise ValueError("chaining layers needs a square array (rows == cols)")
    tiles = sum(_ceil_div(layer.weights.shape[1], config.array.cols) for layer in layers)
    if tiles > config.buffers.param_depth:
        raise ValueError(f"the layers need {tiles} parameter words, the chip has "
                         f"{config.buffers.param_depth}")


def compile_network(x: np.ndarray, layers: list[Dense], config: SystoleConfig | None = None,
                    *, mode: str = "auto") -> NetworkProgram:
    """Compile ``reference_network(x, layers)`` for the chip (see the module docstring).

    Parameters
    ----------
    x : numpy.ndarray
        int8 input, M x K.
    layers : list of Dense
    config : SystoleConfig, optional
        Default: the ``default`` preset.
    mode : str
        ``"auto"`` (on chip when it fits), ``"chip"`` or ``"memory"``.

    Raises
    ------
    TypeError, ValueError
        Bad operands, chained layers on a non-square array, too many parameter words, the
        program does not fit the memory, or ``mode="chip"`` for a network that does not fit.
    """
    config = preset("default") if config is None else config
    _check(x, layers, config)
    if mode not in ("auto", "chip", "memory"):
        raise ValueError(f"mode must be 'auto', 'chip' or 'memory', not {mode!r}")
    fits = _fits_on_chip(x.shape[0], layers, config)
    if mode == "chip" and not fits:
        raise ValueError("the network does not fit on chip (buffers); use mode='memory'")
    on_chip = fits if mode == "auto" else mode == "chip"
    builder = _ChipBuilder if on_chip else _MemoryBuilder
    return builder(x, layers, config).build()


class _Builder:
    def __init__(self, x: np.ndarray, layers: list[Dense], config: SystoleConfig):
        self.x, self.layers, self.cfg = x, layers, config
        self.image = _Image()
        self.instrs: list[dict] = []
        self.extra: dict[int, list[int]] = {}
        self.m = x.shape[0]
        self.vectors: list[int] = []

    def emit(self, opcode: Opcode, **fields) -> int:
        self.instrs.append({"opcode": opcode, **fields})
        return len(self.instrs) - 1

    def load_params(self) -> list[int]:
        """LOAD every layer's parameter words, then a compute SYNC after them; return each
        layer's first parameter word."""
        cfg = self.cfg
        words = [param_words(layer.params, cfg) for layer in self.layers]
        addr = self.image.add(np.concatenate(words))
        firsts = np.cumsum([0] + [len(w) for w in words])[:-1].tolist()
        load = self.emit(Opcode.LOAD, buffer=Buffer.PARAM, buf_addr=0,
                         rows=sum(len(w) for w in words), mem_addr=addr,
                         stride=cfg.word_bytes("param"))
        sync = self.emit(Opcode.SYNC, unit=Unit.COMPUTE)
        self.extra[sync] = [load]
        return firsts

    def finish(self, mode: str, out_addr: int) -> NetworkProgram:
        cfg = self.cfg
        self.emit(Opcode.HALT)
        assign_tokens(self.instrs, cfg, self.extra)
        words = tuple(encode(f["opcode"], **{k: v for k, v in f.items() if k != "opcode"})
                      for f in self.instrs)
        prog_addr = _align(self.image.end)
        end = prog_addr + INSTR_BYTES * len(words)
        if end > cfg.memory.size:
            raise ValueError(f"the network needs {end} bytes of memory, {cfg.name!r} has "
                             f"{cfg.memory.size}")
        # The sequencer prefetches up to a ring of instructions past HALT: keep them inside
        # the image (memory models flag reads past its end).
        image = self.image.build(min(end + cfg.buffers.instr_depth * INSTR_BYTES,
                                     cfg.memory.size))
        image[prog_addr:end] = np.frombuffer(
            b"".join(w.to_bytes(INSTR_BYTES, "little") for w in words), np.uint8)
        return NetworkProgram(
            config=cfg, mode=mode, instructions=words, image=image, prog_addr=prog_addr,
            out_addr=out_addr, m=self.m, n_out=self.layers[-1].weights.shape[1],
            layer_vectors=self.vectors,
            layer_macs=[self.m * layer.weights.shape[0] * layer.weights.shape[1]
                        for layer in self.layers])


class _ChipBuilder(_Builder):
    """Everything on chip: input loaded once, intermediates in the activation buffer."""

    def build(self) -> NetworkProgram:
        cfg, m = self.cfg, self.m
        r = cfg.array.rows
        half = cfg.buffers.act_depth // 2
        firsts = self.load_params()
        # Input: K-tile kt of row i at activation word kt * M + i of half 0.
        t0 = plan_tiling(m, self.x.shape[1], 1, cfg)
        x_words, _ = _pack(self.x, np.zeros((self.x.shape[1], 1), np.int8), cfg, t0)
        x_addr = self.image.add(x_words)
        act_bytes, w_bytes = cfg.word_bytes("act"), cfg.word_bytes("weight")
        # All weights stay in the weight buffer, layer after layer, tiles [N-tile][K-tile].
        weight_base, weight_addr, weight_count = [], [], []
        for layer in self.layers:
            k, n = layer.weights.shape
            tiling = plan_tiling(m, k, n, cfg)
            _, w_words = _pack(np.zeros((1, k), np.int8), layer.weights, cfg, tiling)
            weight_base.append(sum(weight_count))
            weight_addr.append(self.image.add(w_words))
            weight_count.append(tiling.n_tiles * tiling.k_tiles * r)
        # Loads in the order of first use, so the first MATMULs wait only for their own
        # K-tile of the input and weight tile: (input K-tile, first weight tile) pairs, then
        # the rest of the first layer's weights, then the other layers'.
        for kt in range(t0.k_tiles):
            self.emit(Opcode.LOAD, buffer=Buffer.ACT, buf_addr=kt * m, rows=m,
                      mem_addr=x_addr + kt * m * act_bytes, stride=act_bytes)
            self.emit(Opcode.LOAD, buffer=Buffer.WEIGHT, buf_addr=kt * r, rows=r,
                      mem_addr=weight_addr[0] + kt * r * w_bytes, stride=w_bytes)
        first = t0.k_tiles * r
        for index, (base, addr, count) in enumerate(zip(weight_base, weight_addr, weight_count,
                                                        strict=True)):
            skip = first if index == 0 else 0
            if count > skip:
                self.emit(Opcode.LOAD, buffer=Buffer.WEIGHT, buf_addr=base + skip,
                          rows=count - skip, mem_addr=addr + skip * w_bytes, stride=w_bytes)
        out_tiles = _ceil_div(self.layers[-1].weights.shape[1], cfg.array.cols)
        out_addr = self.image.add(out_tiles * m * cfg.word_bytes("acc"))
        # Each POSTPROC (and the last layer's STOREs) is emitted one MATMUL after the last
        # MATMUL it waits for, or earlier if a MATMUL needs its result or its accumulators:
        # the sequencer holds it until its token arrives, and meanwhile the array keeps busy.
        pending: list[tuple[list[dict], range, range, int]] = []   # (instrs, act, acc, age)
        acc_bytes = cfg.word_bytes("acc")

        def flush(keep) -> None:
            for item in list(pending):
                if not keep(item):
                    pending.remove(item)
                    for fields in item[0]:
                        self.emit(**fields)

        source = 0
        for index, layer in enumerate(self.layers):
            k, n = layer.weights.shape
            k_tiles, n_tiles = _ceil_div(k, r), _ceil_div(n, cfg.array.cols)
            last = index == len(self.layers) - 1
            target = half - source
            for nt in range(n_tiles):
                for kt in range(k_tiles):
                    act, acc = source + kt * m, nt * m
                    flush(lambda item, act=act, acc=acc: act not in item[1]
                          and acc not in item[2])
                    self.emit(Opcode.MATMUL, act_addr=act,
                              weight_addr=weight_base[index] + (nt * k_tiles + kt) * r,
                              acc_addr=acc, rows=m, accumulate=int(kt > 0))
                    pending[:] = [(i, a, c, age + 1) for i, a, c, age in pending]
                    flush(lambda item: item[3] < 2)
                dst = PostProcDst.ACC if last else PostProcDst.ACT
                instrs = [dict(opcode=Opcode.POSTPROC, acc_addr=nt * m, rows=m, dst=dst,
                               dst_addr=nt * m if last else target + nt * m,
                               param_addr=firsts[index] + nt, **_pp_fields(layer.params))]
                if last:
                    instrs.append(dict(opcode=Opcode.STORE, acc_addr=nt * m, rows=m,
                                       mem_addr=out_addr + nt * m * acc_bytes,
                                       stride=acc_bytes))
                written = range(target + nt * m, target + nt * m + m) if not last else range(0)
                pending.append((instrs, written, range(nt * m, nt * m + m), 1))
            self.vectors.append(m * k_tiles * n_tiles)
            source = target
        flush(lambda item: False)
        return self.finish("chip", out_addr)


class _LayerEmitter(_Emitter):
    """The GEMM emitter with a POSTPROC (in place, into the accumulators) before each STORE."""

    def __init__(self, *args, param_first: int, params: PostProcParams, **kwargs):
        super().__init__(*args, **kwargs)
        self.param_first, self.params = param_first, params

    def _emit(self, opcode: Opcode, **fields) -> int:
        if opcode == Opcode.STORE:
            acc_bytes = self.cfg.word_bytes("acc")
            nt = (fields["mem_addr"] - self.c_addr) // acc_bytes // self.t.m
            super()._emit(Opcode.POSTPROC, acc_addr=fields["acc_addr"], rows=fields["rows"],
                          dst=PostProcDst.ACC, dst_addr=fields["acc_addr"],
                          param_addr=self.param_first + nt, **_pp_fields(self.params))
        return super()._emit(opcode, **fields)


class _MemoryBuilder(_Builder):
    """Each layer tiled like a GEMM; int8 intermediates through memory."""

    def build(self) -> NetworkProgram:
        cfg, m = self.cfg, self.m
        firsts = self.load_params()
        acc_bytes = cfg.word_bytes("acc")
        a_addr, a_row_bytes = None, cfg.word_bytes("act")
        bridge = None
        for index, layer in enumerate(self.layers):
            k, n = layer.weights.shape
            tiling = plan_tiling(m, k, n, cfg)
            a_words, b_words = _pack(self.x if index == 0 else np.zeros((m, k), np.int8),
                                     layer.weights, cfg, tiling)
            if index == 0:
                a_addr = self.image.add(a_words)
            b_addr = self.image.add(b_words)
            c_addr = self.image.add(tiling.n_tiles * m * acc_bytes)
            emitter = _LayerEmitter(cfg, tiling, a_addr, b_addr, c_addr,
                                    param_first=firsts[index], params=layer.params)
            emitter.a_row_bytes = a_row_bytes
            emitter.emit()
            offset = len(self.instrs)
            body = emitter.instrs[:-1]                   # without its HALT
            self.instrs += body
            for i, deps in emitter.extra.items():
                self.extra[offset + i] = [offset + d for d in deps]
            if bridge is not None:                       # the previous layer's stores first
                first_load = next(offset + i for i, f in enumerate(body)
                                  if f["opcode"] == Opcode.LOAD)
                self.extra.setdefault(first_load, []).append(bridge)
            if index < len(self.layers) - 1:
                last_store = max(i for i, f in enumerate(self.instrs)
                                 if f["opcode"] == Opcode.STORE)
                bridge = self.emit(Opcode.SYNC, unit=Unit.COMPUTE)
                self.extra[bridge] = [last_store]
            self.vectors.append(m * tiling.k_tiles * tiling.n_tiles)
            a_addr, a_row_bytes = c_addr, acc_bytes
        return self.finish("memory", c_addr)


# ---- convolution -------------------------------------------------------------------------------

def im2col(x: np.ndarray, kh: int, kw: int, *, stride: int = 1, padding: int = 0,
           pad_value: int = 0) -> tuple[np.ndarray, int, int]:
    """Patches of an NHWC int8 tensor as rows: ``(N * OH * OW) x (kh * kw * C)`` (order
    ``(dy, dx, c)``), padded with ``pad_value`` (the input zero point); returns the matrix
    and ``(OH, OW)``."""
    n, h, w, c = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"kernel {kh} x {kw} does not fit the padded {h} x {w} input")
    padded = np.full((n, h + 2 * padding, w + 2 * padding, c), pad_value, x.dtype)
    padded[:, padding:padding + h, padding:padding + w] = x
    cols = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for dy in range(kh):
        for dx in range(kw):
            cols[:, :, :, dy, dx] = padded[:, dy:dy + stride * oh:stride,
                                           dx:dx + stride * ow:stride]
    return cols.reshape(n * oh * ow, kh * kw * c), oh, ow


def conv2d_layer(weights: np.ndarray, params: PostProcParams) -> Dense:
    """A convolution with HWIO int8 ``weights`` (kh x kw x C_in x C_out) as a dense layer
    over :func:`im2col` rows."""
    kh, kw, cin, cout = weights.shape
    return Dense(np.ascontiguousarray(weights.reshape(kh * kw * cin, cout)), params)


def conv2d_reference(x: np.ndarray, weights: np.ndarray, *, stride: int = 1,
                     padding: int = 0) -> np.ndarray:
    """Direct (loop over output pixels) int32 convolution, NHWC x HWIO -> NHWC, zero padding;
    independent of :func:`im2col`."""
    n, h, w, _ = x.shape
    kh, kw, _, cout = weights.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    out = np.zeros((n, oh, ow, cout), np.int64)
    wts = weights.astype(np.int64)
    for oy in range(oh):
        for ox in range(ow):
            for dy in range(kh):
                for dx in range(kw):
                    iy, ix = oy * stride + dy - padding, ox * stride + dx - padding
                    if 0 <= iy < h and 0 <= ix < w:
                        out[:, oy, ox] += x[:, iy, ix].astype(np.int64) @ wts[dy, dx]
    return out.astype(np.int32)

