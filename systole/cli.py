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


def cmd_generate(args: argparse.Namespace) -> int:
    from systole.hw.generate import TOPS, write_design

    config = config_from_args(args)
    start = time.perf_counter()
    design = TOPS[args.top](config)
    paths = write_design(design, args.out)
    elapsed = time.perf_counter() - start
    for path in paths:
        print(f"wrote {path}")
    array = config.array
    print(f"{design.top}: {array.rows} x {array.cols} {array.fmt.name} array, "
          f"generated in {elapsed:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="systole", description="systole: a systolic-array accelerator generator")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write the Verilog and its JSON description")
    _add_config_options(gen)
    gen.add_argument("--out", required=True, help="output directory")
    gen.add_argument("--top", choices=["chip", "array", "memsys"], default="chip",
                     help="what to generate: the whole accelerator (default), the systolic "
                          "array alone, or the memory subsystem (DMA + AXI4 ports) alone")
    gen.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as error:
        print(f"systole {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
