"""One camera in the adapter: reader, segmenter, analysis, recorder, spool, uploader, link.

Threads: `camera-<name>` demuxes (segmenter + analysis + recorder, and the
images, since only that thread touches the decoder); `uploader-<uidd>` empties
the spool; `link-<uidd>` carries tasks and status. Tasks that need a picture
are queued for the camera thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream

from camloft.adapter.analysis import Analyzer
from camloft.adapter.config import CameraSettings
from camloft.adapter.home import Home
from camloft.adapter.link import LinkClient
from camloft.adapter.live import LiveStreamer
from camloft.adapter.ptz import is_ptz_action, ptz_controller
from camloft.adapter.recorder import Recorder
from camloft.adapter.sources import CameraReader, Status, is_file_source
from camloft.adapter.spool import Spool
from camloft.adapter.synthetic_source import OPEN_OPTIONS, SyntheticServer
from camloft.adapter.uploader import Uploader
from camloft.events import TRIGGER_HOLD_MS, EventRecord, EventType
from camloft.media.batching import READ_PAUSE_SECONDS, ArrivalClock, ReadPause, batched
from camloft.media.live import LiveCutter
from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter
from camloft.media.synthetic import SceneView

log = logging.getLogger("camloft.adapter.camera")
# How much later than its place on the sub-stream's timeline a packet may arrive, beyond
# the batching pause, before that timeline is anchored again at arrival.
_MAX_LATE_SECONDS = 2.0


def now_ms() -> int:
    return int(time.time() * 1000)


class Camera:
    def __init__(
        self,
        settings: CameraSettings,
        logger_url: str | None,
        spool_root: Path,
        *,
        auth_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.device = settings.device
        self.home = Home(self.device, settings.key, logger_url=logger_url, auth_url=auth_url)
        self.spool = Spool(spool_root / str(self.device))
        self.recorder = Recorder(
            record_on_motion=settings.record == "motion",
            store=self.spool.add,
            on_event=self._on_event,
            pre_roll_seconds=settings.pre_roll_seconds,
            tz=settings.tz,
        )
        self.uploader = Uploader(self.device, settings.key, self.home, self.spool)
        self.link = LinkClient(
            self.device, settings.key, self.home, on_task=self.on_task, status=self.status
        )
        self.live = LiveStreamer(
            self.device,
            settings.key,
            on_change=self.link.status_changed,
            tail_seconds=settings.live_tail_seconds,
            from_buffer=settings.live_from_buffer,
        )
        self._cutter: LiveCutter | None = None
        self._synthetic: SyntheticServer | None = None
        view = None  # the virtual PTZ's; the settings allow it for synthetic sources only
        if settings.ptz.driver == "virtual":
            view = SceneView(settings.synthetic.width, settings.synthetic.height)
        self.ptz = ptz_controller(settings.name, settings.ptz, view)
        url, options = settings.source, {}
        if settings.source == "synthetic":
            self._synthetic = SyntheticServer(settings.name, settings.synthetic.scene(), view)
            url, options = self._synthetic.url, OPEN_OPTIONS
        self.reader = CameraReader(
            settings.name,
            url,
            self._consume,
            on_status=self._on_status,
            loop=settings.loop,
            options=options,
        )
        # A live input is read in batches (media/batching.py), except while someone
        # watches it live; a file needs no pause.
        self._read_pause = ReadPause(
            0.0 if is_file_source(settings.source) else READ_PAUSE_SECONDS,
            urgent=self._watched_live,
        )
        sub = settings.substream
        self._sub_pause_s = 0.0 if sub is None or is_file_source(sub) else READ_PAUSE_SECONDS
        self._analyzer: Analyzer | None = None
        self.subreader: CameraReader | None = None
        if settings.substream is not None:
            self.subreader = CameraReader(
                f"{settings.name}-sub", settings.substream, self._consume_substream
            )
        self._wanted: dict[str, int] = {}  # pictures asked for: kind -> the ms they are for
        self._wanted_lock = threading.Lock()
        self._events_seen: set[int] = set()
        self._next_periodic_thumb_ms = 0
        self.segments_recorded = 0

    # running

    def start(self, stop: threading.Event) -> None:
        if self._synthetic is not None:
            self._synthetic.start()
        self.uploader.start(stop)
        self.link.start(stop)
        self.live.start(stop)
        self.reader.start()
        if self.subreader is not None:
            self.subreader.start()

    def stop(self) -> None:
        """Stop reading; the open segment is finished and spooled, the event closed."""
        self.reader.stop()
        self._read_pause.hurry()
        if self.subreader is not None:
            self.subreader.stop()
            self.subreader.join(15)
        self.reader.join(15)
        self.recorder.close()
        if self._synthetic is not None:
            self._synthetic.stop()
        if self.ptz is not None:
            self.ptz.close()

    def _consume(self, container: InputContainer, stop: threading.Event) -> None:
        video = container.streams.video[0]
        audio = next((s for s in container.streams.audio if s.codec_context.name == "aac"), None)
        self._cutter = self.live.cutter(video, audio)
        if self.subreader is not None:
            # Motion, sound and pictures all come from the sub-stream: the main stream
            # is only copied, never decoded.
            try:
                Segmenter(
                    container,
                    self._on_segment,
                    target_seconds=self.settings.segment_seconds,
                    on_packet=self._cutter.feed,
                    read_pause=self._read_pause,
                ).run(stop)
            finally:
                self._cutter.close()
            return
        self._analyzer = Analyzer(
            self.settings.name,
            video,
            self.recorder.trigger,
            audio=audio,
            motion=self.settings.motion,
            sound=self.settings.sound,
        )
        segmenter = Segmenter(
            container,
            self._on_segment,
            target_seconds=self.settings.segment_seconds,
            on_packet=self._on_packet,
            read_pause=self._read_pause,
        )
        try:
            segmenter.run(stop)
        finally:
            self._analyzer.flush()
            self._cutter.close()

    def _consume_substream(self, container: InputContainer, stop: threading.Event) -> None:
        """Motion and sound from the sub-stream, timed by arrival (a live stream's clock):
        read in batches, each packet is placed by pts after its stream's first arrival."""
        video = container.streams.video[0]
        audio = next((s for s in container.streams.audio if s.codec_context.name == "aac"), None)
        analyzer = Analyzer(
            f"{self.settings.name}-sub",
            video,
            self.recorder.trigger,
            audio=audio,
            motion=self.settings.motion,
            sound=self.settings.sound,
        )
        streams: list[Stream] = [video] if audio is None else [video, audio]
        pause_s = self._sub_pause_s
        clock = ArrivalClock(
            {s.index: float(s.time_base or 0) for s in streams},
            max_late_ms=1000 * (pause_s + _MAX_LATE_SECONDS),
        )
        try:
            for packet in batched(container.demux(streams), stop, pause_s):
                if stop.is_set():
                    break
                if packet.dts is not None:
                    at_ms = clock.at_ms(packet.stream_index, packet.pts, now_ms())
                    analyzer.feed(packet, at_ms)
                    self._pictures_after(analyzer, at_ms)
        finally:
            analyzer.flush()

    def _watched_live(self) -> bool:
        cutter = self._cutter
        return cutter is not None and cutter.active

    def _on_segment(self, segment: Segment) -> None:
        self.segments_recorded += 1
        self.recorder.on_segment(segment)

    def _on_packet(self, packet: Packet[Stream], at_ms: int) -> None:
        if self._cutter is not None:
            self._cutter.feed(packet, at_ms)
        analyzer = self._analyzer
        if analyzer is None:
            return
        analyzer.feed(packet, at_ms)
        self._pictures_after(analyzer, at_ms)

    def _pictures_after(self, analyzer: Analyzer, at_ms: int) -> None:
        """On the thread that owns `analyzer`: take the periodic thumb and asked-for pictures."""
        if at_ms >= self._next_periodic_thumb_ms and analyzer.latest_at_ms is not None:
            self._next_periodic_thumb_ms = at_ms + int(self.settings.thumb_every_seconds * 1000)
            self._want("thumb", at_ms)
        if self._wanted:
            self._take_pictures(analyzer)

    def _want(self, kind: str, at_ms: int) -> None:
        with self._wanted_lock:
            self._wanted[kind] = at_ms

    def _take_pictures(self, analyzer: Analyzer) -> None:
        taken_at = analyzer.latest_at_ms
        if taken_at is None:
            return
        with self._wanted_lock:
            wanted, self._wanted = self._wanted, {}
        for kind, at_ms in wanted.items():
            picture = analyzer.latest_still() if kind == "still" else analyzer.latest_thumb()
            if picture is None:
                continue
            # An event's thumb is filed under the event's start, the others under their time.
            self.spool.put_image(kind, at_ms if kind == "alert" else taken_at, picture)

    def _on_event(self, record: EventRecord) -> None:
        self.spool.put_event(record)
        if record.id not in self._events_seen:
            self._events_seen.add(record.id)
            self._want("alert", record.startt)

    def _on_status(self, status: Status) -> None:
        self.link.status_changed()

    # the link

    def on_task(self, action: str, task: Mapping[str, Any] | None = None) -> None:
        """A task from the logger; `task` is the whole message (livecommand's `origin`)."""
        task = task or {}
        if action == "triggerevent":
            self.recorder.trigger(EventType.TRIGGER, now_ms(), hold_ms=TRIGGER_HOLD_MS)
        elif action == "capturethumb":
            self._want("thumb", now_ms())
        elif action == "capturestill":
            self._want("still", now_ms())
        elif action == "livecommand":
            origin = task.get("origin")
            if isinstance(origin, str) and origin.startswith(("http://", "https://")):
                self.live.keepalive(origin)
                self._read_pause.hurry()  # the first segment goes out at the next packet
            else:
                log.warning("camera %s: livecommand without a live origin", self.settings.name)
        elif is_ptz_action(action):
            if self.ptz is None:
                log.info("camera %s: no PTZ driver for %s", self.settings.name, action)
            else:
                self.ptz.send(action)
        else:
            log.warning("camera %s: unknown task %r ignored", self.settings.name, action)

    def status(self) -> dict[str, Any]:
        queue_mb, queue_sec = self.spool.backlog()
        live = self.live.status()
        status = self.reader.status or "novideo"
        return live | {
            "status": "live" if live["live"] and status == "online" else status,
            "queue_mb": round(queue_mb, 3),
            "queue_sec": round(queue_sec, 1),
        }
