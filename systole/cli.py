"""The ``systole`` command line."""

from __future__ import annotations

import argparse
import sys
import time

from systole.hw.config import ArrayConfig, SystoleConfig, preset

__all__ = ["main"]


def config_from_args(args: argparse.Namespace) -> SystoleConfig:
    """Build the configuration from ``--preset`` or ``--rows``/``--cols``."""
    if args.preset is not None:
        if args.rows is not None or args.cols is not None:
            raise ValueError("give either --preset or --rows/--cols, not both")
        return preset(args.preset)
    if args.rows is None or args.cols is None:
        raise ValueError("give --preset NAME, or both --rows R and --cols C")
    return SystoleConfig(array=ArrayConfig(rows=args.rows, cols=args.cols))


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help="named configuration (tiny, default)")
    parser.add_argument("--rows", type=int, help="array rows (1-256), with --cols")
    parser.add_argument("--cols", type=int, help="array columns (1-256), with --rows")


def _add_array_options(parser: argparse.ArgumentParser) -> None:
    """``--rows``/``--cols``: another array in the chosen preset (``systole run``, ``fpga``)."""
    parser.add_argument("--rows", type=int, default=None,
                        help="array rows instead of the preset's (with --cols; the preset's "
                             "memory and buffers)")
    parser.add_argument("--cols", type=int, default=None,
                        help="array columns instead of the preset's (with --rows)")


def _with_array(args: argparse.Namespace, config: SystoleConfig) -> SystoleConfig:
    """``config`` with the array of ``--rows``/``--cols`` if given."""
    if (args.rows is None) != (args.cols is None):
        raise ValueError("give both --rows and --cols, or neither")
    return config if args.rows is None else config.with_array(args.rows, args.cols)


def cmd_generate(args: argparse.Namespace) -> int:
    from systole.hw.generate import TOPS, write_design

    config = config_from_args(args)
    start = time.perf_counter()
    design = TOPS[args.top](config)
    if args.period is not None:
        from dataclasses import replace

        design = replace(design, period_ns=args.period)
    paths = write_design(design, args.out)
    elapsed = time.perf_counter() - start
    for path in paths:
        print(f"wrote {path}")
    array = config.array
    print(f"{design.top}: {array.rows} x {array.cols} {array.fmt.name} array, "
          f"generated in {elapsed:.1f} s")
    return 0


def parse_size(text: str) -> int:
    """Bytes from ``4194304``, ``4M``, ``512K`` or ``1G`` (binary multiples)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        value = int(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size must be bytes like 4194304 or 4M, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, not {value}")
    return value


def cmd_membench(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from systole.sim.membench import format_report, run_membench, write_json

    try:
        summary = run_membench(preset=args.preset, channels=args.channels, size=args.size,
                               patterns=args.pattern, simulator=args.sim, seed=args.seed)
    except RuntimeError as error:
        print(f"systole membench: error: {error}", file=sys.stderr)
        return 1
    summary["command"] = " ".join(["systole", *args.argv])
    if args.out:
        write_json(summary, Path(args.out))
        print(f"wrote {args.out}", file=sys.stderr)
    print(json.dumps(summary) if args.json else format_report(summary))
    return 0


def _add_membench_parser(sub) -> None:
    from systole.sim.hbm import PRESETS
    from systole.sim.membench import DEFAULT_SIZE, JOBS

    bench = sub.add_parser(
        "membench", help="DMA bandwidth against the HBM timing model, in RTL simulation",
        description="Run the memory subsystem's DMA (generated Verilog, cocotb) against the HBM "
                    "pseudo-channel timing model and report bandwidth as a fraction of the peak "
                    "(channels x 256 bit x controller clock), refresh overhead and read latency. "
                    "Progress goes to stderr.")
    bench.add_argument("--preset", choices=sorted(PRESETS), default="hbm2e",
                       help="HBM timing preset (default hbm2e)")
    bench.add_argument("--channels", type=int, choices=[1, 2, 4, 8], default=4,
                       help="pseudo-channels (AXI4 ports) of the main runs (default 4)")
    bench.add_argument("--pattern", action="append", choices=[*JOBS, "scaling", "refresh"],
                       help="run only this pattern (repeatable); default: all, plus channel "
                            "scaling (1, 2, 4 channels) and refresh (off / all-bank)")
    bench.add_argument("--size", type=parse_size, default=DEFAULT_SIZE,
                       help="bytes per sequential pattern, e.g. 4M (default 4M; random "
                            "patterns move a quarter of it)")
    _add_sim_option(bench)
    bench.add_argument("--seed", type=int, default=1, help="seed of the random patterns")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--out", help="also write the JSON to this file")
    bench.set_defaults(func=cmd_membench)


def _add_chip_options(parser: argparse.ArgumentParser) -> None:
    """``--preset`` (chip configuration) and ``--sim``, shared by the simulation commands."""
    from systole.hw.config import PRESETS

    parser.add_argument("--preset", choices=sorted(PRESETS), default="default",
                        help="chip configuration (default: default)")
    _add_sim_option(parser)


def _add_sim_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                        help="simulator (default verilator)")


def cmd_run(args: argparse.Namespace) -> int:
    import json

    from systole.hw.config import preset
    from systole.run import run_gemm

    config = _with_array(args, preset(args.preset))
    for name in ("m", "k", "n"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, not {getattr(args, name)}")
    report = run_gemm(config, args.m, args.k, args.n, seed=args.seed, sim=args.sim,
                      hbm=args.hbm, mode=args.memory, max_cycles=args.max_cycles,
                      transpose={"auto": None, "straight": False, "transposed": True,
                                 "matvec": None}[args.mapping],
                      matvec=True if args.mapping == "matvec" else None,
                      quiet=False)
    print(json.dumps(report.to_dict()) if args.json else report.text())
    return 0 if report.ok else 1


def _add_run_parser(sub) -> None:
    from systole.sim.hbm import PRESETS as HBM_PRESETS

    run = sub.add_parser(
        "run", help="a random GEMM through the whole generated chip, checked bit for bit",
        description="Compile a random int8 GEMM (A is M x K, B is K x N), simulate the whole "
                    "generated chip with the HBM memory model, check C against numpy and the "
                    "final memory image against the golden model, and print cycles, MACs, "
                    "array utilisation and bytes moved. Exit code 1 when anything differs.")
    _add_chip_options(run)
    _add_array_options(run)
    run.add_argument("--m", type=int, required=True, help="rows of A and C")
    run.add_argument("--k", type=int, required=True, help="columns of A, rows of B")
    run.add_argument("--n", type=int, required=True, help="columns of B and C")
    run.add_argument("--seed", type=int, default=0, help="seed of the random operands")
    run.add_argument("--hbm", choices=sorted(HBM_PRESETS), default="hbm2e",
                     help="HBM timing preset of the memory model (default hbm2e)")
    run.add_argument("--memory", choices=["timing", "fixed", "random"], default="timing",
                     help="memory model: HBM timing (default), fixed or random latency")
    run.add_argument("--max-cycles", type=int, default=5_000_000,
                     help="watchdog: give up after this many cycles")
    run.add_argument("--mapping", choices=["auto", "straight", "transposed", "matvec"],
                     default="auto",
                     help="compute C = A @ B, C^T = B^T A^T (faster for few rows of A) or C "
                          "as MATVECs streaming B's tiles (a GEMV; chips with a tile buffer); "
                          "default: the compiler's choice")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object on stdout (progress still goes to stderr)")
    run.set_defaults(func=cmd_run)


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from systole.bench import CASES, QUICK_CASES, markdown_table, run_bench, write_outputs

    bench = run_bench(QUICK_CASES if args.quick else CASES, seed=args.seed)
    bench["command"] = " ".join(["systole", *args.argv])
    for path in write_outputs(bench, Path(args.out), plots=not args.no_plots):
        print(f"wrote {path}", file=sys.stderr)
    print(markdown_table(bench), end="")
    return 0 if all(case["ok"] for case in bench["cases"]) else 1


def _add_bench_parser(sub) -> None:
    bench = sub.add_parser(
        "bench", help="GEMM shapes and array sizes through the whole chip (RTL simulation)",
        description="Run square, skinny and GEMV GEMMs on 4x4, 8x8 and 16x16 arrays through "
                    "the generated chip (Verilator, HBM2E model, checked bit for bit) and "
                    "write JSON, a Markdown table and PNG plots (utilisation vs size next to "
                    "SCALE-Sim's model and the ideal; a roofline). Takes tens of minutes; "
                    "progress goes to stderr.")
    bench.add_argument("--out", default="results/bench.json",
                       help="JSON output; bench.md and the PNGs go next to it "
                            "(default results/bench.json)")
    bench.add_argument("--quick", action="store_true",
                       help="two small cases on the tiny preset (a smoke test)")
    bench.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    bench.add_argument("--seed", type=int, default=0, help="seed of the random operands")
    bench.set_defaults(func=cmd_bench)


def cmd_mlp_demo(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from systole.mlp import run_mlp_demo

    if args.samples is not None and args.samples < 1:
        raise ValueError(f"--samples must be at least 1, not {args.samples}")
    report = run_mlp_demo(preset(args.preset), samples=args.samples, sim=args.sim,
                          cache_dir=Path(args.cache) if args.cache else None,
                          per_layer=not args.no_per_layer, quiet=False)
    print(json.dumps(report.to_dict()) if args.json else report.text())
    return 0 if report.ok else 1


def _add_mlp_demo_parser(sub) -> None:
    demo = sub.add_parser(
        "mlp-demo", help="an int8 MLP on the digits data set through the simulated chip",
        description="Train (or load from build/mlp/) a 64-64-10 MLP on scikit-learn's digits, "
                    "quantise it to int8, run the test split through the integer reference "
                    "and the RTL chip (Verilator), and print the float, int8 and RTL "
                    "accuracies, RTL/reference mismatches, and cycles and utilisation per "
                    "layer. Exit code 1 when the RTL differs or (full test split) the RTL "
                    "accuracy is not within 1 point of float and above 0.9.")
    _add_chip_options(demo)
    demo.add_argument("--samples", type=int, default=None,
                      help="test images to run (default: all 360)")
    demo.add_argument("--cache", default=None, help="model cache folder (default build/mlp)")
    demo.add_argument("--no-per-layer", action="store_true",
                      help="skip the per-layer runs (cycles per layer)")
    demo.add_argument("--json", action="store_true",
                      help="print one JSON object on stdout (progress goes to stderr)")
    demo.set_defaults(func=cmd_mlp_demo)


def cmd_asic(args: argparse.Namespace) -> int:
    import json

    from systole.asic import run_asic

    config = config_from_args(args)

    def progress(text: str) -> None:
        print(f"systole asic: {text}", file=sys.stderr, flush=True)

    try:
        result = run_asic(config, scope=args.scope, period_ns=args.period,
                          memories=args.memories, out_dir=args.out, progress=progress)
    except RuntimeError as error:
        print(f"systole asic: error: {error}", file=sys.stderr)
        return 1
    report = result.to_dict()
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['top']} ({report['scope']}, {config.name}), {report['library']}, "
          f"pre-layout")
    print(f"  area        {report['area_um2']:,.0f} um^2 (logic {report['logic_area_um2']:,.0f},"
          f" memory macros {report['memory_area_um2']:,.0f})")
    print(f"  cells       {report['cells']:,} ({report['flops']:,} flip-flops)")
    print(f"  timing      period {report['period_ns']:g} ns, worst slack "
          f"{report['worst_slack_ns']:+.3f} ns, critical path {report['critical_path_ns']:.3f} "
          f"ns -> fmax {report['fmax_mhz']:.1f} MHz")
    print(f"  path        {report['startpoint']} -> {report['endpoint']}")
    print(f"  peak        {report['peak_int8_tops']:.4f} int8 TOPS, "
          f"{report['tops_per_mm2']:.4f} TOPS/mm^2")
    print(f"  files       {report['out_dir']}")
    return 0


def _add_asic_parser(sub) -> None:
    from systole.asic import MEMORIES, SCOPES

    asic = sub.add_parser(
        "asic", help="SKY130 synthesis and static timing (pre-layout estimate)",
        description="Synthesise the generated Verilog with Yosys to the SkyWater SKY130 "
                    "high-density library (typical corner), time it with OpenSTA under the "
                    "generated SDC, and report area, cells, flip-flops, critical path and "
                    "fmax. Files go to build/asic/<key>/ (or --out).")
    _add_config_options(asic)
    asic.add_argument("--period", type=float, default=4.0,
                      help="clock period in ns of the constraints (default 4.0 = 250 MHz)")
    asic.add_argument("--scope", choices=SCOPES, default="pe",
                      help="what to synthesise: one PE (default), the array, the whole chip")
    asic.add_argument("--memories", choices=MEMORIES, default="sram",
                      help="chip buffers as OpenRAM SRAM macros (default) or flip-flops")
    asic.add_argument("--out", help="output directory (default build/asic/<key>)")
    asic.add_argument("--json", action="store_true", help="print one JSON object")
    asic.set_defaults(func=cmd_asic)


def cmd_fpga(args: argparse.Namespace) -> int:
    import json

    from systole.fpga import build_fpga, have_loader

    if args.program and not have_loader():
        print("systole fpga: error: --program needs openFPGALoader on PATH", file=sys.stderr)
        return 2
    config = preset(args.preset) if args.preset else None
    if args.rows is not None or args.cols is not None:
        from systole.hw.boards import BOARDS

        config = _with_array(args, config or preset(BOARDS[args.board].preset))
    try:
        report = build_fpga(args.board, config=config, baud=args.baud, seed=args.seed,
                            clock_mhz=args.clock_mhz, program=args.program, build_dir=args.out,
                            nextpnr_opts=args.nextpnr_opts, place_dsps=not args.no_place_dsps,
                            scope=args.scope, route_seconds=args.route_seconds or None,
                            outreg=not args.no_outreg)
    except RuntimeError as error:
        print(f"systole fpga: error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict()) if args.json else report.text())
    if args.program and not report.programmed:
        advice = (f"; rebuild with --clock-mhz {report.fastest_clock_mhz:g}"
                  if report.fastest_clock_mhz is not None else "")
        fmax = "n/a" if report.fmax_mhz is None else f"{report.fmax_mhz} MHz"
        print(f"systole fpga: error: not programmed: fmax {fmax} is below the "
              f"{report.target_mhz:g} MHz clock, and the board would compute wrong "
              f"results{advice}", file=sys.stderr)
        return 1
    return 0


def _add_fpga_parser(sub) -> None:
    from systole.fpga import ROUTE_SECONDS
    from systole.hw.boards import BOARDS
    from systole.hw.boards.ulx3s import PLL_SETTINGS, SCOPES
    from systole.hw.config import PRESETS

    fpga = sub.add_parser(
        "fpga", help="build the FPGA prototype (chip + block RAM + UART) for a board",
        description="Build the accelerator with on-chip memory and the UART host link for a "
                    "board (amaranth-boards, YoWASP yosys/nextpnr from PyPI: pip install "
                    "'systole[fpga]') and print LUT/LC, FF, DSP and block-RAM use and "
                    "nextpnr's post-route maximum frequency. Takes minutes.")
    fpga.add_argument("--board", choices=sorted(BOARDS), required=True)
    fpga.add_argument("--preset", choices=sorted(PRESETS),
                      help="configuration (default: the board's own preset)")
    _add_array_options(fpga)
    fpga.add_argument("--scope", choices=SCOPES, default="chip",
                      help="chip: the prototype (default); array: the PE array alone with "
                           "generated stimulus, to time it apart from the control plane "
                           "(ULX3S)")
    fpga.add_argument("--baud", type=int, help="UART baud rate (default: the board's)")
    fpga.add_argument("--seed", type=int, default=1,
                      help="nextpnr placement seed (when nextpnr finds no legal placement, or "
                           "its routing is stopped, the next two are tried)")
    fpga.add_argument("--clock-mhz", type=float,
                      help="ULX3S design clock from the PLL (default 125; "
                           + ", ".join(f"{mhz:g}" for mhz in PLL_SETTINGS if mhz != 125) + ")")
    fpga.add_argument("--out", help="build folder (default build/fpga/<board>)")
    fpga.add_argument("--nextpnr-opts", default="", metavar="OPTS",
                      help="extra nextpnr options, e.g. '--router router2' (replaces the ECP5 "
                           "default router1) or '--placer-heap-beta 0.5'")
    fpga.add_argument("--route-seconds", type=float, default=ROUTE_SECONDS, metavar="S",
                      help=f"ECP5: stop nextpnr's router after S seconds and go on to the next "
                           f"seed, the last one with router2 (default {ROUTE_SECONDS:g}; "
                           f"0: no limit)")
    fpga.add_argument("--no-place-dsps", action="store_true",
                      help="leave the PEs' DSP sites to nextpnr (ULX3S; by default they are "
                           "fixed column by column along the DSP rows)")
    fpga.add_argument("--no-outreg", action="store_true",
                      help="ECP5: keep the registers behind the block RAM reads in the fabric "
                           "(by default they move into the DP16KDs' output registers)")
    fpga.add_argument("--program", action="store_true",
                      help="program the connected board with openFPGALoader after the build "
                           "(only a build that meets its clock)")
    fpga.add_argument("--json", action="store_true", help="print one JSON object")
    fpga.set_defaults(func=cmd_fpga)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="systole", description="systole: a systolic-array accelerator generator")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write the Verilog and its JSON description")
    _add_config_options(gen)
    gen.add_argument("--out", required=True, help="output directory")
    gen.add_argument("--top", choices=["chip", "array", "memsys", "postproc", "fpga"],
                     default="chip",
                     help="what to generate: the whole accelerator (default), the systolic "
                          "array alone, the memory subsystem (DMA + AXI4 ports) alone, the "
                          "post-processing unit alone, or the FPGA prototype without pins "
                          "(chip + block RAM + UART bridge)")
    gen.add_argument("--period", type=float,
                     help="clock period in ns of the constraints file <top>.sdc (default 4.0)")
    gen.set_defaults(func=cmd_generate)
    _add_run_parser(sub)
    _add_membench_parser(sub)
    _add_bench_parser(sub)
    _add_mlp_demo_parser(sub)
    _add_asic_parser(sub)
    _add_fpga_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as error:
        print(f"systole {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

