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
from pathlib import Path
from typing import Any

from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream

from camloft.adapter.analysis import Analyzer
from camloft.adapter.config import CameraSettings
from camloft.adapter.link import LinkClient
from camloft.adapter.ptz import is_ptz_action, ptz_controller
from camloft.adapter.recorder import Recorder
from camloft.adapter.sources import CameraReader, Status
from camloft.adapter.spool import Spool
from camloft.adapter.synthetic_source import OPEN_OPTIONS, SyntheticServer
from camloft.adapter.uploader import Uploader
from camloft.events import TRIGGER_HOLD_MS, EventRecord, EventType
from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter
from camloft.media.synthetic import SceneView

log = logging.getLogger("camloft.adapter.camera")


def now_ms() -> int:
    return int(time.time() * 1000)


class Camera:
    def __init__(self, settings: CameraSettings, logger_url: str, spool_root: Path) -> None:
        self.settings = settings
        self.device = settings.device
        self.spool = Spool(spool_root / str(self.device))
        self.recorder = Recorder(
            record_on_motion=settings.record == "motion",
            store=self.spool.add,
            on_event=self._on_event,
            pre_roll_seconds=settings.pre_roll_seconds,
            tz=settings.tz,
        )
        self.uploader = Uploader(self.device, settings.key, logger_url, self.spool)
        self.link = LinkClient(
            self.device, settings.key, logger_url, on_task=self.on_task, status=self.status
        )
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
        self.reader.start()
        if self.subreader is not None:
            self.subreader.start()

    def stop(self) -> None:
        """Stop reading; the open segment is finished and spooled, the event closed."""
        self.reader.stop()
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
        if self.subreader is not None:
            # Motion, sound and pictures all come from the sub-stream: the main stream
            # is only copied, never decoded.
            Segmenter(
                container, self._on_segment, target_seconds=self.settings.segment_seconds
            ).run(stop)
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
        )
        try:
            segmenter.run(stop)
        finally:
            self._analyzer.flush()

    def _consume_substream(self, container: InputContainer, stop: threading.Event) -> None:
        """Motion and sound from the sub-stream, timed by arrival (a live stream's clock)."""
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
        try:
            for packet in container.demux(streams):
                if stop.is_set():
                    break
                if packet.dts is not None:
                    at_ms = now_ms()
                    analyzer.feed(packet, at_ms)
                    self._pictures_after(analyzer, at_ms)
        finally:
            analyzer.flush()

    def _on_segment(self, segment: Segment) -> None:
        self.segments_recorded += 1
        self.recorder.on_segment(segment)

    def _on_packet(self, packet: Packet[Stream], at_ms: int) -> None:
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

    def on_task(self, action: str) -> None:
        if action == "triggerevent":
            self.recorder.trigger(EventType.TRIGGER, now_ms(), hold_ms=TRIGGER_HOLD_MS)
        elif action == "capturethumb":
            self._want("thumb", now_ms())
        elif action == "capturestill":
            self._want("still", now_ms())
        elif action == "livecommand":
            log.info("camera %s: live streaming is not available yet", self.settings.name)
        elif is_ptz_action(action):
            if self.ptz is None:
                log.info("camera %s: no PTZ driver for %s", self.settings.name, action)
            else:
                self.ptz.send(action)
        else:
            log.warning("camera %s: unknown task %r ignored", self.settings.name, action)

    def status(self) -> dict[str, Any]:
        queue_mb, queue_sec = self.spool.backlog()
        return {
            "status": self.reader.status or "novideo",
            "queue_mb": round(queue_mb, 3),
            "queue_sec": round(queue_sec, 1),
        }
