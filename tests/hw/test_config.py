"""Configuration validation: every bad value fails with a message naming the parameter."""

import pytest

from systole.hw.config import (
    PRESETS,
    ArrayConfig,
    BufferConfig,
    MemoryConfig,
    SystoleConfig,
    preset,
)
from systole.hw.numfmt import IntMacFormat, mac_format
from systole.hw.skew import Skew


def test_presets():
    assert (preset("tiny").array.rows, preset("tiny").array.cols) == (4, 4)
    assert (preset("default").array.rows, preset("default").array.cols) == (16, 16)
    assert set(PRESETS) >= {"tiny", "default"}


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 256), (256, 1), (7, 3), (256, 256)])
def test_any_shape_in_range(rows, cols):
    cfg = ArrayConfig(rows=rows, cols=cols)
    assert cfg.latency == rows + cols + 1


@pytest.mark.parametrize("kwargs,error,message", [
    ({"rows": 0}, ValueError, "rows must be between 1 and 256, not 0"),
    ({"rows": 257}, ValueError, "rows must be between 1 and 256, not 257"),
    ({"cols": -4}, ValueError, "cols must be between 1 and 256, not -4"),
    ({"cols": 4.0}, TypeError, "cols must be an int, not 4.0"),
    ({"rows": True}, TypeError, "rows must be an int, not True"),
    ({"rows": "8"}, TypeError, "rows must be an int, not '8'"),
    ({"fmt": "int8"}, TypeError, "fmt must be an IntMacFormat, not 'int8'"),
])
def test_array_config_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        ArrayConfig(**kwargs)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"act_width": 1}, ValueError, "act_width must be between 2 and 32, not 1"),
    ({"weight_width": 33}, ValueError, "weight_width must be between 2 and 32, not 33"),
    ({"acc_width": 15}, ValueError, "acc_width must be at least act_width \\+ weight_width"),
    ({"acc_width": None}, TypeError, "acc_width must be an int, not None"),
])
def test_format_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        IntMacFormat(**kwargs)


def test_lookup_errors():
    with pytest.raises(ValueError,
                       match="preset must be one of \\['default', 'icebreaker', 'tiny', "
                             "'ulx3s', 'ulx3s10'\\], not 'huge'"):
        preset("huge")
    with pytest.raises(ValueError, match="preset must be one of .*, not \\[\\]"):
        preset([])
    with pytest.raises(ValueError, match="fmt must be one of \\['int8'\\], not 'bf16'"):
        mac_format("bf16")
    with pytest.raises(TypeError, match="array must be an ArrayConfig"):
        SystoleConfig(array=None)
    with pytest.raises(ValueError, match="descriptors must be one of \\[2, 4, 8\\], not 3"):
        MemoryConfig(descriptors=3)
    with pytest.raises(TypeError, match="postproc must be a bool, not 0"):
        SystoleConfig(postproc=0)
    with pytest.raises(TypeError, match="stall_counters must be a bool, not 'no'"):
        SystoleConfig(stall_counters="no")
    with pytest.raises(TypeError, match="check_registers must be a bool, not 1"):
        SystoleConfig(check_registers=1)
    with pytest.raises(ValueError, match="order must be one of"):
        Skew(8, 4, order="sideways")
    with pytest.raises(ValueError, match="count must be at least 1, not 0"):
        Skew(8, 0)


def test_with_array_keeps_everything_but_the_array():
    tall = preset("default").with_array(128, 16)
    assert tall.name == "default-128x16" and (tall.array.rows, tall.array.cols) == (128, 16)
    assert (tall.memory, tall.buffers) == (preset("default").memory, preset("default").buffers)
    assert preset("icebreaker").with_array(2, 2).check_registers is False
    with pytest.raises(ValueError, match="rows must be between 1 and 256, not 300"):
        preset("default").with_array(300, 16)
    with pytest.raises(ValueError, match="buffers.weight_depth must hold one weight tile"):
        preset("tiny").with_array(256, 4)


def test_tile_words():
    """A tile word holds ``rows`` rows at a power-of-two pitch, in whole beats; presets without
    a tile buffer describe themselves as before (no ``tile_depth``, no ``tile`` word)."""
    default = preset("default")
    assert (default.buffers.tile_depth, default.tile_row_pitch, default.word_bytes("tile")) == (
        128, 16, 256)
    twelve = default.with_array(12, 12)
    assert (twelve.tile_row_pitch, twelve.word_bytes("tile")) == (16, 256)   # 192 B, 8 beats
    assert preset("tiny").word_bytes("tile") == 32 and preset("tiny").matvec
    view = preset("ulx3s").to_dict()
    assert not preset("ulx3s").matvec and "tile_depth" not in view["buffers"]
    assert "tile" not in view["words"] and default.to_dict()["words"]["tile"] == {"bytes": 256}
    with pytest.raises(ValueError, match="tile_depth must be between 0 and 65536, not -1"):
        BufferConfig(tile_depth=-1)


def test_from_dict_inverts_to_dict():
    """Every preset, one with another array and one with every option flipped round-trip
    through the JSON view (the board testbench rebuilds its config from it)."""
    import json
    from dataclasses import replace

    flipped = replace(preset("tiny"), postproc=False, stall_counters=False,
                      check_registers=False, registered_acc_reads=True,
                      registered_operand_reads=True)
    for config in [*PRESETS.values(), preset("default").with_array(128, 16), flipped]:
        assert SystoleConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    view = preset("tiny").to_dict()
    view["array"]["rows"] = 0
    with pytest.raises(ValueError, match="rows must be between 1 and 256, not 0"):
        SystoleConfig.from_dict(view)


def test_configs_are_frozen():
    cfg = ArrayConfig()
    with pytest.raises(AttributeError):
        cfg.rows = 3
    with pytest.raises(TypeError):
        ArrayConfig(4, 4)  # keyword-only
