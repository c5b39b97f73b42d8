# camloft: `make run` starts the demo; `make test` runs every test and check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HLS_JS := src/camloft/web/static/hls.min.js
# Debian packages the tests use: ffmpeg/ffprobe, GStreamer's RTSP server as a test camera
# (gstreamer1.0-x brings the clock overlay it draws), and chromium, which Playwright drives
# to play HLS with hls.js (hls.js comes from npm: the machine's Node.js brings npm).
SYSTEM_PACKAGES := ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	gstreamer1.0-libav gstreamer1.0-x chromium

.PHONY: run test lint typecheck unit bench clean system-deps docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# hls.js from the npm registry (pinned in web/package-lock.json), served by camloft with no CDN.
$(HLS_JS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	mkdir -p $(dir $(HLS_JS))
	cp web/node_modules/hls.js/dist/hls.min.js $(HLS_JS)

run: $(STAMP) $(HLS_JS)
	$(BIN)/camloft serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tools

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/camloft bench tools

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

test: system-deps lint typecheck $(HLS_JS)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/auth/run.py
	$(BIN)/python bench/adapter/remux.py
	$(BIN)/python bench/adapter/camera.py
	$(BIN)/python bench/logger/run.py
	$(BIN)/python bench/live/run.py
	$(BIN)/python bench/bus/run.py
	$(BIN)/python bench/fleet/run.py

# The client's API reference, from its docstrings.
docs: $(STAMP)
	$(BIN)/python tools/client_api_docs.py docs/client-api.md

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache web/node_modules $(HLS_JS)
