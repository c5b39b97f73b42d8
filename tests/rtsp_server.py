"""A synthetic RTSP camera for tests: H.264 + AAC from GStreamer's test sources.

Runs under the system's /usr/bin/python3 (where `gi` lives), not in the
project's virtual environment:

    /usr/bin/python3 tests/rtsp_server.py --port 8554 --path /cam \
        [--width 640 --height 360 --fps 15 --keyint 15]

Listens on 127.0.0.1 only, on one shared media factory (every client sees the
same live stream, as with a real camera). Prints one line
`READY rtsp://127.0.0.1:PORT/PATH` to stdout once it listens, and exits 0 on
SIGTERM or SIGINT. A wall-clock overlay is drawn when the `clockoverlay`
element (Debian's gstreamer1.0-x) is there, so a viewer can read the latency.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

HOST = "127.0.0.1"


def launch_line(width: int, height: int, fps: int, keyint: int) -> str:
    """The media pipeline: live test video and audio, H.264 and AAC, payloaded."""
    overlay = ""
    if Gst.ElementFactory.find("clockoverlay") is not None:
        overlay = '! clockoverlay time-format="%H:%M:%S" halignment=left valignment=top '
    return (
        "( "
        "videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"{overlay}"
        f"! x264enc tune=zerolatency key-int-max={keyint} bitrate=512 "
        "! rtph264pay name=pay0 pt=96 "
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
        "! audioconvert ! audioresample ! avenc_aac "
        "! rtpmp4gpay name=pay1 pt=97 "
        ")"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--keyint", type=int, default=15)
    args = parser.parse_args(argv)
    path = args.path if args.path.startswith("/") else f"/{args.path}"

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.width, args.height, args.fps, args.keyint))
    factory.set_shared(True)
    server.get_mount_points().add_factory(path, factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {HOST}:{args.port}", file=sys.stderr, flush=True)
        return 1

    def quit_loop() -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, quit_loop)

    print(f"READY rtsp://{HOST}:{args.port}{path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
