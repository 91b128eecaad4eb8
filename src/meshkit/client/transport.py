"""An ``httpx`` transport that sends ``http://<service>/path`` to an instance of the service.

``httpx.AsyncClient(transport=mesh.transport())`` then gets discovery, balancing, breakers,
outlier detection, and the service's retry and timeout, with no change to the calling code.
The URL's host names the service; each attempt rewrites scheme, host and port to the picked
instance (the ``Host`` header keeps the service name, as a mesh's logical authority). The
request body is read once up front so that a retry can send it again. Connection failures
become :class:`~meshkit.errors.ConnectFailed` and timeouts
:class:`~meshkit.errors.UpstreamTimeout`; a ``Retry-After`` on a 429 or 503 tells the balancer
how long to avoid that instance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from meshkit.errors import ConnectFailed, UpstreamTimeout
from meshkit.registry.models import Instance
from meshkit.upstreams.retry_after import parse_retry_after

__all__ = ["MeshTransport", "parse_retry_after"]  # (the latter re-exported)

MeshCall = Callable[..., Awaitable[Any]]


class MeshTransport(httpx.AsyncBaseTransport):
    """Route requests through ``call`` (a :meth:`ServiceMesh.call`); ``inner`` does the HTTP;
    ``hash_header`` names the header whose value is the consistent-hashing key."""

    def __init__(
        self,
        call: MeshCall,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        hash_header: str | None = None,
    ) -> None:
        self._call = call
        self._inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self._hash_header = hash_header

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # replayable on retry
        service = request.url.host
        key = None
        if self._hash_header is not None:
            key = request.headers.get(self._hash_header, "").encode()
        response: httpx.Response = await self._call(
            service, self._attempt, request, key=key, classify=_status
        )
        return response

    async def _attempt(self, instance: Instance, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme=instance.scheme, host=instance.host, port=instance.port)
        upstream = httpx.Request(
            request.method,
            url,
            headers=request.headers,
            content=request.content,
            extensions=request.extensions,
        )
        try:
            response = await self._inner.handle_async_request(upstream)
        except httpx.ConnectError as exc:
            raise ConnectFailed(f"{instance.id} ({instance.address}): {exc}") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"{instance.id} ({instance.address}): {exc!r}") from exc
        if response.status_code in (429, 503):
            # The convention every policy reads (see resilience._outcome.retry_after_hint).
            response.retry_after = parse_retry_after(response.headers.get("retry-after"))  # type: ignore[attr-defined]
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _status(response: httpx.Response) -> int:
    return response.status_code
