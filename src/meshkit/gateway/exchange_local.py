"""The parts of an exchange that answer locally: Python filters, and the gateway's own
replies (the error table's answers and a filter's :class:`Reply`).

A mixin of :class:`~meshkit.gateway.exchange.ProxyExchange`, kept apart so each module reads
in one sitting; the attributes it uses are the exchange's.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from meshkit.gateway.filters import (
    FilterFailed,
    FilterRequest,
    FilterResponse,
    Headers,
    Reply,
    run_request_filters,
    run_response_filters,
)
from meshkit.gateway.http1 import RequestHead, response_head_bytes
from meshkit.gateway.request_sink import RequestSink
from meshkit.gateway.response_head import ResponseHead
from meshkit.gateway.upstream import ResponseSink
from meshkit.health.outlier import ErrorKind

if TYPE_CHECKING:
    import asyncio

    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.gateway import Gateway
    from meshkit.gateway.outgoing import OutgoingBody
    from meshkit.gateway.router import Route
    from meshkit.gateway.upstream import UpstreamConnection
    from meshkit.upstreams.service_route import ServiceRoute

__all__ = ["LocalAnswers"]


class LocalAnswers(RequestSink, ResponseSink):
    # The state these steps own; the rest is the exchange's.
    __slots__ = ("_held_end", "_hold", "_started_response", "_status", "_task")

    # provided by ProxyExchange
    gateway: Gateway
    head: RequestHead
    client: ClientConnection
    _route: Route | None
    _service: ServiceRoute | None
    _conn: UpstreamConnection | None
    _task: asyncio.Task[None] | None
    _hold: list[bytes] | None
    _held_end: bool | None
    _done: bool
    _body: OutgoingBody | None
    _status: int | None
    _started_response: bool
    _request_id: bytes

    # The exchange's steps that these mixins (and Tunnel and Relay) call: declared once here,
    # where a compiled build needs them, and defined by ProxyExchange and Relay.
    def _proceed(self) -> None:
        raise NotImplementedError

    def _drop_conn(self) -> None:
        raise NotImplementedError

    def _settle(
        self,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error: ErrorKind | None = None,
        cancelled: bool = False,
    ) -> None:
        raise NotImplementedError

    def _may_retry(self, *, stale: bool) -> bool:
        raise NotImplementedError

    def _dispatch(self) -> None:
        raise NotImplementedError

    def _release_conn(self, *, reusable: bool) -> None:
        raise NotImplementedError

    def _cancel_timer(self) -> None:
        raise NotImplementedError

    def _finish(self, keep_alive: bool) -> None:
        raise NotImplementedError

    def _keep_alive(self) -> bool:
        raise NotImplementedError

    def _prepare_head(self, head: ResponseHead, headers: list[tuple[bytes, bytes]] | None) -> None:
        raise NotImplementedError

    def _request_read(self) -> bool:
        """The client's request body (if any) has been read to its end."""
        return self._body is None or self._body.ended

    def _request_view(self, headers: list[tuple[bytes, bytes]]) -> FilterRequest:
        route = self._route
        assert route is not None
        head = self.head
        return FilterRequest(
            method=head.method.decode("latin-1"),
            path=head.path.decode("latin-1"),
            query=head.query.decode("latin-1"),
            headers=Headers(headers),
            client=self.client.peer,
            route=route.name,
        )

    async def _filter_request(self) -> None:
        route = self._route
        assert route is not None
        head = self.head
        view = self._request_view(head.headers)
        try:
            reply = await run_request_filters(route.request_filters, view, route.filter_timeout)
            if reply is None:
                head.path = view.path.encode("latin-1")
                head.query = view.query.encode("latin-1")
        except (FilterFailed, ValueError, UnicodeError):
            self._answer(500, "filter failed")
            return
        finally:
            self._task = None
        if self._done:
            return
        if reply is not None:
            self._reply(reply)
        else:
            self._proceed()

    def _reply(self, reply: Reply) -> None:
        try:
            body, headers = reply.encoded()
        except (ValueError, UnicodeError, TypeError):
            self._answer(500, "filter failed")
            return
        self._drop_conn()
        self._status = reply.status
        headers.append((b"x-request-id", self._request_id))
        keep_alive = self._keep_alive() and self._request_read()
        self.client.write(
            response_head_bytes(
                reply.status, headers, content_length=len(body), keep_alive=keep_alive
            )
            + body
        )
        self._finish(keep_alive)

    async def _filter_response(
        self, head: ResponseHead, headers: list[tuple[bytes, bytes]]
    ) -> None:
        route = self._route
        assert route is not None
        view = FilterResponse(
            status=head.status,
            headers=Headers(headers),
            request=self._request_view(list(self.head.headers)),
        )
        try:
            await run_response_filters(route.response_filters, view, route.filter_timeout)
        except (FilterFailed, ValueError, UnicodeError):
            self._hold = None
            self._drop_conn()
            self._started_response = False
            self._answer(500, "filter failed")
            return
        finally:
            self._task = None
        if self._done:
            return
        head.status = view.status
        self._prepare_head(head, view.headers.fields)
        held, self._hold = self._hold or [], None
        end, self._held_end = self._held_end, None
        for chunk in held:
            self.response_body(chunk)
        if end is not None:
            self.response_end(end)
        elif self._conn is not None and not self._conn.closed:
            self._conn.transport.resume_reading()

    def _answer_error(self, error: BaseException) -> None:
        status, message = self.gateway.classify(error)
        self._answer(status, message, retry_after=getattr(error, "retry_after", None))

    def _answer(
        self,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        if self._done:
            return
        self._drop_conn()
        self._settle(cancelled=True)
        request_id = self._request_id.decode("latin-1")
        body = json.dumps({"error": message, "request_id": request_id}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-request-id", self._request_id)]
        if retry_after is not None:
            headers.append((b"retry-after", b"%d" % max(1, math.ceil(retry_after))))
        if extra:
            headers += extra
        keep_alive = self._keep_alive() and self._request_read()
        self.client.write(
            response_head_bytes(status, headers, content_length=len(body), keep_alive=keep_alive)
            + body
        )
        self._status = status
        self._finish(keep_alive)
