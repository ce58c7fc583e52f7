# nitrous — top-level entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help deps deps-apt build demo test test-unit test-host test-guest test-long bench synth fmt lint clean

help:
	@echo "make deps       install apt packages + project venv (idempotent)"
	@echo "make demo       simulated card doing real work, with a short report"
	@echo "make test       every test (<= 25 min on 2 cores): test-unit + test-host + test-guest"
	@echo "make test-unit  cargo tests: RustHDL blocks, Verilator engines, driver, CLI"
	@echo "make test-host  userspace VFIO driver in a QEMU guest with an IOMMU and SR-IOV NVMe"
	@echo "make test-guest stock Linux nvme driver in a QEMU guest on a VF of the simulated card"
	@echo "make test-long  long randomized suites"
	@echo "make bench      cycle-accurate benchmarks -> target/bench*.json"
	@echo "make synth      ECP5 synthesis + bitstream, figures -> docs/PERFORMANCE.md"

deps:
	@tools/deps.sh

deps-apt:
	@tools/deps.sh --no-venv

build: deps-apt
	$(CARGO) build --release --workspace

demo: deps-apt
	$(CARGO) build --release -p nitrous-cli
	@tools/demo.sh

test: test-unit test-host test-guest

test-unit: deps-apt
	$(CARGO) test --release --workspace

test-guest: deps-apt
	host-tests/guest/run.sh

test-host:
	host-tests/vfio/run.sh

test-long: deps-apt
	NITROUS_LONG=1 $(CARGO) test --release --workspace -- --include-ignored

bench: deps-apt
	$(CARGO) build --release -p nitrous-cli
	./target/release/nitrous bench crypto --json target/bench.json
	@echo "== card: 4 KiB random reads, 4 VFs x QD 32, backend latency 0"
	./target/release/nitrous sim --card cards/bench-4096.toml nvme-perf --qd 32 --size 4096 --read-pct 100 --ios 1000 --json target/bench-card-4k-qd32.json
	@echo "== card: 512 B random reads, 4 VFs x QD 32"
	./target/release/nitrous sim --card cards/bench-512.toml nvme-perf --qd 32 --size 512 --read-pct 100 --ios 4000 --json target/bench-card-512-qd32.json
	@echo "== card: QD 1 4 KiB read latency, 1 VF"
	./target/release/nitrous sim --card cards/bench-qd1.toml nvme-perf --qd 1 --size 4096 --read-pct 100 --ios 500 --json target/bench-card-4k-qd1.json

synth: deps
	@bitstreams/synth.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
