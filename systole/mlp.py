"""``systole mlp-demo``: a small MLP trained on scikit-learn's digits, quantised to int8 and run
through the simulated chip.

* **Model**: 64 inputs (8 x 8 pixels / 16) -> 64 ReLU -> 10 logits, scikit-learn
  ``MLPClassifier`` (adam, fixed seed) on a fixed stratified 80/20 split (1,437 / 360 images).
  Trained weights are cached in ``build/mlp/`` (keyed by the training settings).
* **Quantisation** (``docs/quant.md``): weights int8 symmetric per output channel; activations
  int8 per tensor, calibrated on the training split: the input (0..1) with scale 1/127 and zero
  point 0, the hidden ReLU output asymmetric over [0, max] (zero point -128, ReLU as the clamp),
  the logits symmetric over their largest magnitude. Input zero points are folded into the int32
  biases; the classifier is the argmax of the int8 logits (first index on ties).
* **Runs**: the int8 reference (:func:`systole.network.reference_network`) and the chip (RTL,
  Verilator): the whole network as one program (intermediates on chip when they fit), and each
  layer as its own program for per-layer cycles and utilisation. ``mismatches`` counts samples
  whose RTL logits differ from the reference in any way.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .hw.config import SystoleConfig
from .network import Dense, compile_network, reference_network
from .quant import PostProcParams, activation_range, quantize_multiplier

__all__ = ["TrainedMLP", "train_mlp", "quantize_mlp", "MlpReport", "run_mlp_demo"]

SEED = 0
HIDDEN = 64
TRAINING = {"hidden": HIDDEN, "activation": "relu", "max_iter": 500, "seed": SEED,
            "test_size": 0.2, "solver": "adam"}


@dataclass
class TrainedMLP:
    """Float weights (``weights[i]`` is K x N) and biases, and the data split."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Float activations after each layer (ReLU on hidden layers)."""
        outs = []
        for index, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b
            if index < len(self.weights) - 1:
                x = np.maximum(x, 0)
            outs.append(x)
        return outs

    def accuracy(self) -> float:
        return float(np.mean(self.forward(self.x_test)[-1].argmax(1) == self.y_test))


def _split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    return train_test_split(x / 16.0, y, test_size=TRAINING["test_size"], random_state=SEED,
                            stratify=y)


def train_mlp(cache_dir: Path | None = None, *, log=None) -> TrainedMLP:
    """Train (or load the cached) MLP; the cache is keyed by :data:`TRAINING`."""
    x_train, x_test, y_train, y_test = _split()
    key = hashlib.sha1(json.dumps(TRAINING, sort_keys=True).encode()).hexdigest()[:10]
    path = (cache_dir or Path("build") / "mlp") / f"mlp-{key}.npz"
    if path.exists():
        saved = np.load(path)
        count = len([name for name in saved.files if name.startswith("w")])
        weights = [saved[f"w{i}"] for i in range(count)]
        biases = [saved[f"b{i}"] for i in range(count)]
    else:
        from sklearn.neural_network import MLPClassifier
        if log:
            log("training the MLP on the digits training split ...")
        clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu",
                            solver=TRAINING["solver"], max_iter=TRAINING["max_iter"],
                            random_state=SEED)
        clf.fit(x_train, y_train)
        weights, biases = list(clf.coefs_), list(clf.intercepts_)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{f"w{i}": w for i, w in enumerate(weights)},
                 **{f"b{i}": b for i, b in enumerate(biases)})
    return TrainedMLP(weights, biases, x_train, y_train, x_test, y_test)


@dataclass
class QuantizedMLP:
    """The int8 network: input quantisation and the layers."""

    input_scale: float
    layers: list[Dense]
    scales: list[float] = field(default_factory=list)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x / self.input_scale), -128, 127).astype(np.int8)

    def predict(self, x_q: np.ndarray) -> np.ndarray:
        return reference_network(x_q, self.layers).argmax(1)


def quantize_mlp(model: TrainedMLP) -> QuantizedMLP:
    """Per-channel int8 weights, per-tensor int8 activations calibrated on the training split."""
    float_outs = model.forward(model.x_train)
    s_in = float(model.x_train.max()) / 127.0
    in_scale, in_zero = s_in, 0
    layers, scales = [], []
    for index, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        last = index == len(model.weights) - 1
        peak = float(np.abs(float_outs[index]).max())
        if last:                       # logits: symmetric
            out_scale, out_zero = peak / 127.0, 0
            act_min, act_max = activation_range("none", out_scale, out_zero)
        else:                          # ReLU output in [0, peak]: all 256 codes
            out_scale, out_zero = peak / 255.0, -128
            act_min, act_max = activation_range("relu", out_scale, out_zero)
        w_scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        w_q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
        bias = np.round(b / (in_scale * w_scale)).astype(np.int64) \
            - in_zero * w_q.astype(np.int64).sum(axis=0)
        pairs = [quantize_multiplier(float(in_scale * s / out_scale)) for s in w_scale]
        params = PostProcParams(bias=bias, multiplier=np.array([p[0] for p in pairs]),
                                shift=np.array([p[1] for p in pairs]), zero_point=out_zero,
                                act_min=act_min, act_max=act_max)
        layers.append(Dense(w_q, params))
        scales.append(out_scale)
        in_scale, in_zero = out_scale, out_zero
    return QuantizedMLP(s_in, layers, scales)


@dataclass
class LayerReport:
    name: str
    m: int
    k: int
    n: int
    cycles: int
    utilization: float
    ok: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MlpReport:
    ok: bool
    preset: str
    sim: str
    samples: int
    accuracy_float: float
    accuracy_int8: float
    accuracy_rtl: float
    mismatches: int
    mode: str
    cycles: int
    utilization: float
    instructions: int
    layers: list[LayerReport]
    error: str | None
    wall_seconds: float

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out

    def text(self) -> str:
        verdict = "ok" if self.ok else "WRONG"
        lines = [
            f"systole mlp-demo: 64-{HIDDEN}-10 MLP on digits, {self.samples} test images, "
            f"preset {self.preset!r}, {self.sim}: {verdict}",
            f"  accuracy: float {self.accuracy_float:.4f}  int8 reference "
            f"{self.accuracy_int8:.4f}  RTL {self.accuracy_rtl:.4f}",
            f"  RTL vs int8 reference: {self.mismatches} mismatching samples",
            f"  whole network, one program ({self.mode}): {self.cycles:,} cycles, utilisation "
            f"{self.utilization:.3f}, {self.instructions} instructions",
        ]
        for layer in self.layers:
            lines.append(f"  layer {layer.name}: {layer.m} x {layer.k} x {layer.n}  "
                         f"{layer.cycles:,} cycles  utilisation {layer.utilization:.3f}  "
                         f"{'ok' if layer.ok else 'WRONG'}")
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append(f"  ({self.wall_seconds:.1f} s)")
        return "\n".join(lines)


def _run_program(program, config: SystoleConfig, sim: str, log) -> tuple[np.ndarray, int, str]:
    from .sim.chip_run import run_on_rtl
    run = run_on_rtl(config, program.image, program.prog_addr, simulator=sim,
                     quiet=log is None)
    regs = run.registers
    error = None
    if not run.finished:
        error = "the chip did not finish"
    elif regs["ERROR_CODE"]:
        error = f"ERROR_CODE {regs['ERROR_CODE']} at {regs['ERROR_PC']:#x}"
    elif run.port_errors:
        error = f"memory protocol errors: {run.port_errors[:3]}"
    cycles = regs["CYCLES_LO"] | regs["CYCLES_HI"] << 32
    return program.read_output(run.memory), cycles, error


def run_mlp_demo(config: SystoleConfig, *, samples: int | None = None, sim: str = "verilator",
                 cache_dir: Path | None = None, per_layer: bool = True,
                 quiet: bool = True) -> MlpReport:
    """Train or load the MLP, quantise it, run ``samples`` test images (default: all 360)
    through the reference and the RTL; see the module docstring."""
    start = time.perf_counter()

    def log(message: str) -> None:
        print(f"[mlp-demo] {message}", file=sys.stderr, flush=True)

    progress = None if quiet else log
    model = train_mlp(cache_dir, log=progress)
    qmodel = quantize_mlp(model)
    count = len(model.x_test) if samples is None else min(samples, len(model.x_test))
    x_test, y_test = model.x_test[:count], model.y_test[:count]
    float_pred = model.forward(x_test)[-1].argmax(1)
    x_q = qmodel.quantize_input(x_test)
    reference = reference_network(x_q, qmodel.layers)
    rows, cols = config.array.rows, config.array.cols

    program = compile_network(x_q, qmodel.layers, config)
    if progress:
        progress(f"whole network ({program.mode}, {len(program.instructions)} instructions) "
                 f"on the RTL ...")
    logits, cycles, error = _run_program(program, config, sim, progress)
    mismatches = int(np.any(logits != reference, axis=1).sum())
    macs = sum(program.layer_macs)

    layer_reports = []
    if per_layer:
        x = x_q
        for index, layer in enumerate(qmodel.layers):
            expected = layer(x)
            single = compile_network(x, [layer], config)
            if progress:
                progress(f"layer {index + 1} alone on the RTL ...")
            out, layer_cycles, layer_error = _run_program(single, config, sim, progress)
            error = error or layer_error
            k, n = layer.weights.shape
            layer_reports.append(LayerReport(
                name=f"{index + 1} ({k}->{n})", m=count, k=k, n=n, cycles=layer_cycles,
                utilization=count * k * n / (rows * cols * max(layer_cycles, 1)),
                ok=bool(np.array_equal(out, expected)) and layer_error is None))
            x = expected

    accuracy_float = float(np.mean(float_pred == y_test))
    accuracy_int8 = float(np.mean(reference.argmax(1) == y_test))
    accuracy_rtl = float(np.mean(logits.argmax(1) == y_test))
    ok = error is None and mismatches == 0 and all(layer.ok for layer in layer_reports)
    if count == len(model.x_test):   # the full test split: the accuracy targets too
        ok = ok and accuracy_rtl > 0.9 and accuracy_rtl >= accuracy_float - 0.01
    return MlpReport(
        ok=ok, preset=config.name, sim=sim, samples=count, accuracy_float=accuracy_float,
        accuracy_int8=accuracy_int8, accuracy_rtl=accuracy_rtl, mismatches=mismatches,
        mode=program.mode, cycles=cycles, utilization=macs / (rows * cols * max(cycles, 1)),
        instructions=len(program.instructions), layers=layer_reports, error=error,
        wall_seconds=time.perf_counter() - start)
