"""What the server judge (``evaluator.judge.server``) needs below the chat protocol: an HTTP client whose responses are
capped as they arrive, the wait a server asks for before a retry, naming what went wrong with a connection, and
waiting on requests in a way SIGTERM and Ctrl-C interrupt at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import time

from evaluator.runtime import stopping

API_ERROR = "api error:"
CANNOT_CONNECT = "cannot connect"


class ResponseTooLarge(Exception):
    """A response over ``api.max_response_bytes``, stopped as it arrived."""


def capped_client(limit: int):
    """An httpx client (openai's defaults) whose responses are refused once they pass ``limit`` bytes, so a server
    that answers with gigabytes costs at most ``limit`` of memory per request."""
    from openai import DefaultAsyncHttpxClient

    httpx = httpx_module()

    class Capped(httpx.AsyncByteStream):
        def __init__(self, inner):
            self.inner = inner

        async def __aiter__(self):
            seen = 0
            async for chunk in self.inner:
                seen += len(chunk)
                if seen > limit:
                    raise ResponseTooLarge(f"response larger than api.max_response_bytes={limit}")
                yield chunk

        async def aclose(self) -> None:
            await self.inner.aclose()

    class Transport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request):
            response = await super().handle_async_request(request)
            response.stream = Capped(response.stream)
            return response

    return DefaultAsyncHttpxClient(transport=Transport())


async def until_done(tasks: set, check=None) -> set:
    """Wait until one of ``tasks`` is done, checking for SIGTERM/SIGINT (and calling ``check``, which may raise)
    every 0.2 s; on a stop (or any error) the tasks still running are cancelled, so a stop takes effect within a
    moment, also during the probe."""
    try:
        while True:
            done, _ = await asyncio.wait(tasks, timeout=0.2, return_when=asyncio.FIRST_COMPLETED)
            stopping.raise_if_stopped()
            if check is not None:
                check()
            if done:
                return done
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def cause(e: BaseException, kind: type):
    """The first exception of type ``kind`` in ``e``'s chain of causes, or None."""
    seen = 0
    while e is not None and seen < 20:
        if isinstance(e, kind):
            return e
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


def httpx_module():
    """The HTTP library the installed openai client is built on (httpx, or httpx2 from openai 3 on)."""
    from openai import DefaultAsyncHttpxClient

    client = next(b for b in DefaultAsyncHttpxClient.__mro__ if b.__name__ == "AsyncClient")
    return importlib.import_module(client.__module__.split(".")[0])


def connection_problem(e) -> str:
    """What went wrong with a connection, in words for an error row."""
    httpx = httpx_module()
    if cause(e, httpx.ConnectError) or cause(e, httpx.ConnectTimeout):
        return CANNOT_CONNECT
    if cause(e, httpx.RemoteProtocolError) or cause(e, httpx.ReadError):
        return "the server closed the connection before the reply was complete"
    return f"connection failed ({type(cause(e, httpx.HTTPError) or e).__name__})"


def unreachable(error) -> bool:
    """Whether a row's error says the server could not be connected to at all."""
    return bool(error) and f"{API_ERROR} {CANNOT_CONNECT}" in str(error)


def retry_after(response) -> float | None:
    """The wait a 429 or 503 asks for (``retry-after-ms``, or ``Retry-After`` in seconds or as a date), or None."""
    headers = getattr(response, "headers", None) or {}
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def usage_count(value) -> int:
    """A server's token count, or 0 where it sent something else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 40 else 0
