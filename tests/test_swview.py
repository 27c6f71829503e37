"""Software view: JSON and C header values equal the Python tables; the header compiles."""

import json
import shutil
import subprocess

import pytest

from systole.hw import isa, regs
from systole.hw.config import PRESETS, preset
from systole.swview import c_header, field_layout, main, software_view, write_software_view


def test_field_layout_matches_encode():
    for opcode, placed in field_layout().items():
        for f, offset in placed:
            word = isa.encode(opcode, **{f.name: 1})
            assert word == int(opcode) | 1 << offset
            assert offset + f.width <= isa.INSTR_BITS


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_view(name, tmp_path):
    cfg = preset(name)
    paths = write_software_view(cfg, tmp_path)
    view = json.loads((tmp_path / "systole.json").read_text())
    assert [p.name for p in paths] == ["systole.json", "systole.h"]
    assert view["config"] == json.loads(json.dumps(cfg.to_dict()))
    assert view["buffers"]["acc"] == {"depth": cfg.buffers.acc_depth,
                                      "word_bytes": cfg.word_bytes("acc")}
    assert view["isa"]["opcodes"]["LOAD"]["value"] == isa.Opcode.LOAD
    assert view["isa"]["opcodes"]["LOAD"]["fields"][3] == {
        "name": "mem_addr", "width": 32, "offset": 50,
        "doc": "byte address of the first row, beat-aligned"}
    assert view["isa"]["errors"] == {e.name: int(e) for e in isa.ErrorCode}
    assert view["isa"]["token_queues"]["S2C"] == {"from": "STORE", "to": "COMPUTE"}
    assert view["registers"]["PROG_ADDR"]["offset"] == 0x10
    assert view["register_bits"]["STATUS_DONE"] == regs.STATUS_DONE
    assert view["id"] == regs.ID_VALUE
    assert view == software_view(cfg)      # same config, same file


def _checks(cfg) -> str:
    """C static assertions of every header value against Python."""
    values = {"ARRAY_ROWS": cfg.array.rows, "ARRAY_COLS": cfg.array.cols,
              "MEMORY_SIZE": cfg.memory.size, "BEAT_BYTES": cfg.memory.data_bytes,
              "INSTR_BYTES": isa.INSTR_BYTES, "ID_VALUE": regs.ID_VALUE,
              "CTRL_START": regs.CTRL_START, "STATUS_ERROR": regs.STATUS_ERROR}
    for kind in ("act", "weight", "acc"):
        values[f"{kind.upper()}_DEPTH"] = getattr(cfg.buffers, f"{kind}_depth")
        values[f"{kind.upper()}_WORD_BYTES"] = cfg.word_bytes(kind)
    values.update({f"OP_{op.name}": int(op) for op in isa.Opcode})
    values.update({f"ERROR_{e.name}": int(e) for e in isa.ErrorCode})
    values.update({f"REG_{r.name}": r.offset for r in regs.REGISTERS})
    values.update({f"FLAG_{f.upper()}_BIT": 8 + i for i, f in enumerate(isa.FLAGS)})
    for opcode, placed in field_layout().items():
        for f, offset in placed:
            values[f"{opcode.name}_{f.name.upper()}_OFFSET"] = offset
            values[f"{opcode.name}_{f.name.upper()}_WIDTH"] = f.width
    return "\n".join(f'_Static_assert(SYSTOLE_{k} == {v}ull, "{k}");' for k, v in values.items())


@pytest.fixture(scope="module")
def gcc():
    path = shutil.which("gcc")
    assert path, "gcc is needed for the C header tests"
    return path


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_header_compiles_with_python_values(name, tmp_path, gcc):
    cfg = preset(name)
    (tmp_path / "systole.h").write_text(c_header(cfg))
    source = tmp_path / "check.c"
    source.write_text('#include "systole.h"\n' + _checks(cfg) + "\n")
    subprocess.run([gcc, "-fsyntax-only", "-std=c11", "-Wall", "-Wextra", "-Werror",
                    "-pedantic", str(source)], check=True, cwd=tmp_path)


def test_header_helpers_encode_like_python(tmp_path, gcc):
    (tmp_path / "systole.h").write_text(c_header(preset("default")))
    (tmp_path / "encode.c").write_text("""
#include <stdio.h>
#include "systole.h"
int main(void)
{
    uint32_t w[4] = {0, 0, 0, 0};
    systole_set_field(w, SYSTOLE_OPCODE_OFFSET, SYSTOLE_OPCODE_WIDTH, SYSTOLE_OP_LOAD);
    systole_set_field(w, SYSTOLE_FLAG_PUSH_NEXT_BIT, 1, 1);
    systole_set_field(w, SYSTOLE_LOAD_BUFFER_OFFSET, SYSTOLE_LOAD_BUFFER_WIDTH,
                      SYSTOLE_BUFFER_WEIGHT);
    systole_set_field(w, SYSTOLE_LOAD_ROWS_OFFSET, SYSTOLE_LOAD_ROWS_WIDTH, 16);
    systole_set_field(w, SYSTOLE_LOAD_MEM_ADDR_OFFSET, SYSTOLE_LOAD_MEM_ADDR_WIDTH,
                      0xdeadbee0u);
    systole_set_field(w, SYSTOLE_LOAD_STRIDE_OFFSET, SYSTOLE_LOAD_STRIDE_WIDTH, 0x20);
    printf("%08x%08x%08x%08x %llu\\n", w[3], w[2], w[1], w[0],
           (unsigned long long)systole_get_field(w, SYSTOLE_LOAD_MEM_ADDR_OFFSET, 32));
    return 0;
}
""")
    subprocess.run([gcc, "-std=c99", "-Wall", "-Werror", "-o", "encode", "encode.c"],
                   check=True, cwd=tmp_path)
    out = subprocess.run([str(tmp_path / "encode")], check=True, capture_output=True,
                         text=True).stdout.split()
    expect = isa.encode("LOAD", buffer=1, rows=16, mem_addr=0xDEADBEE0, stride=0x20,
                        push_next=1)
    assert int(out[0], 16) == expect and int(out[1]) == 0xDEADBEE0


def test_header_is_deterministic():
    assert c_header(preset("tiny")) == c_header(preset("tiny"))
    assert c_header(preset("tiny")) != c_header(preset("default"))


def test_main_writes_both_files(tmp_path, capsys):
    main(["--preset", "tiny", "--out", str(tmp_path / "sw")])
    assert (tmp_path / "sw" / "systole.h").exists()
    assert "systole.json" in capsys.readouterr().out
