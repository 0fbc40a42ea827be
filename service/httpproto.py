"""uvicorn's httptools protocol, answering the requests it refuses with the error envelope.

Some requests never reach the app: httptools cannot parse a request target over 65535 bytes
(its URL parser counts in 16 bits), and uvicorn then answers a `text/plain` 400 itself.
Schemathesis reaches that with a long enough `{id}` (`relations check` reported it as an
undocumented Content-Type). This protocol answers the same refusals like every other error,
`{"error": {"code", "message"}}` in `application/json`: 414 with code 907 when the request
target overflowed, 400 with code 2 for any other unparsable request. `relations serve` uses it.
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.errors import ApiError, Code

#: Longest request target httptools can parse.
MAX_TARGET_BYTES = 65535


class EnvelopeHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose parser refusals carry the API's error envelope."""

    def send_400_response(self, msg: str) -> None:
        url = getattr(self, "url", b"")
        if len(url) > MAX_TARGET_BYTES:
            err = ApiError(Code.QUERY_STRING_TOO_LONG, "Request target too long")
        else:
            err = ApiError(Code.BAD_QUERY, "Malformed HTTP request")
        body = orjson.dumps(err.body())
        head = [f"HTTP/1.1 {err.status} {'URI Too Long' if err.status == 414 else 'Bad Request'}"]
        head += [f"{n.decode('latin-1')}: {v.decode('latin-1')}"
                 for n, v in self.server_state.default_headers]
        head += ["content-type: application/json", f"content-length: {len(body)}",
                 "connection: close"]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        self.transport.close()
