# camloft: `make run` starts the demo; `make test` runs every test and check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests use: ffmpeg/ffprobe, and GStreamer's RTSP server as a test camera
# (gstreamer1.0-x brings the clock overlay it draws).
SYSTEM_PACKAGES := ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	gstreamer1.0-libav gstreamer1.0-x

.PHONY: run test lint typecheck unit bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/camloft serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/camloft bench

# Installs only what is missing (as root: apt-get update once, then one install).
system-deps:
	@missing=""; \
	for package in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed \
			|| missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		apt-get update -q \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

test: system-deps lint typecheck
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/auth/run.py
	$(BIN)/python bench/adapter/remux.py
	$(BIN)/python bench/adapter/camera.py
	$(BIN)/python bench/logger/run.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
