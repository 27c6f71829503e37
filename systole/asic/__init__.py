"""Tape-out style estimates: SKY130 synthesis, static timing, SRAM macros, gate-level netlists."""

from .flow import MEMORIES, SCOPES, AsicResult, run_asic

__all__ = ["MEMORIES", "SCOPES", "AsicResult", "run_asic"]
