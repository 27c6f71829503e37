"""The committed docs/isa.md is exactly what the tables generate."""

from pathlib import Path

from systole.hw import isa, regs
from systole.isadoc import isa_markdown, main

DOC = Path(__file__).resolve().parents[1] / "docs" / "isa.md"


def test_committed_page_is_generated():
    assert DOC.read_text() == isa_markdown(), \
        "docs/isa.md is stale: run `python -m systole.isadoc docs/isa.md`"


def test_page_covers_every_table():
    text = isa_markdown()
    for name in [op.name for op in isa.Opcode] + [e.name for e in isa.ErrorCode] + \
            [r.name for r in regs.REGISTERS] + list(isa.FLAGS):
        assert name in text, name
    assert "| [81:50] | `mem_addr` |" in text


def test_main_writes_the_page(tmp_path):
    main([str(tmp_path / "isa.md")])
    assert (tmp_path / "isa.md").read_text() == isa_markdown()


def test_help_is_not_taken_for_a_file_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        main(["--help"])
    except SystemExit as stop:
        assert stop.code == 0
    assert "usage:" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())
