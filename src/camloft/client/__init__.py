"""camloft's Python client: the Videoloft API (v1.0.8) with its rules kept for you.

```python
from camloft.client import Client

with Client("http://127.0.0.1:8080", email="demo@example.com", password="demo") as client:
    for device in client.devices():
        print(device.uidd, device.name, device.alias)
```

What this package owns:

- `Client` (sync) and `AsyncClient` (asyncio), on httpx. Both run the same
  operations (`_base.py`); a token is refreshed before its 20 minutes run
  out by one auth flow (`_auth.py`), viewerInfo is cached for 10 minutes and
  fetched again when a logger says a device is not resident.
- Long-running helpers: `keep_live` (livecommand every 30 s), `recording`
  (triggerevent every 15 s), `iter_events` (paging newest first),
  `AsyncClient.realtime` (the realtime stream, reconnecting, de-duplicated),
  the segment cache (`SegmentCache`), resumable MP4 downloads.
- Typed results (`models`) and one exception tree (`errors`).
- The `camloft-cli` command (`camloft.client.cli`).

It imports no server code: it talks to any server of this API over HTTP.
"""

from camloft.client._auth import Session
from camloft.client._client import AsyncClient, AsyncRepeater, Client, Repeater
from camloft.client.cache import SegmentCache
from camloft.client.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CameraOfflineError,
    CamloftClientError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    NotLoggedInError,
    ProtocolError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from camloft.client.models import CameraStatus, Device, Download, Event, RealtimeMessage

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncRepeater",
    "AuthenticationError",
    "BadRequestError",
    "CameraOfflineError",
    "CameraStatus",
    "CamloftClientError",
    "Client",
    "ConflictError",
    "Device",
    "Download",
    "Event",
    "ForbiddenError",
    "NotFoundError",
    "NotLoggedInError",
    "ProtocolError",
    "RateLimitedError",
    "RealtimeMessage",
    "Repeater",
    "RequestTimeoutError",
    "SegmentCache",
    "ServerError",
    "Session",
    "TransportError",
]
