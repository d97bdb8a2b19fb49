"""A wasi:http/proxy server in Python for wharf's tests (componentize-py).

Routes: `/` answers "hello from python", `/echo` sends the request body back.
"""

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        path = request.path_with_query() or "/"
        if path == "/echo":
            respond(response_out, 200, read_body(request))
        elif path == "/":
            respond(response_out, 200, b"hello from python\n")
        else:
            respond(response_out, 404, b"not found\n")


def read_body(request: IncomingRequest) -> bytes:
    data = bytearray()
    with request.consume() as body:
        with body.stream() as stream:
            while True:
                try:
                    data += stream.blocking_read(65536)
                except Err:
                    # The stream is closed: the whole body has been read.
                    break
    return bytes(data)


def respond(response_out: ResponseOutparam, status: int, data: bytes) -> None:
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
    response.set_status_code(status)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with body.write() as stream:
        # blocking-write-and-flush takes at most 4096 bytes at a time.
        for start in range(0, len(data), 4096):
            stream.blocking_write_and_flush(data[start : start + 4096])
    OutgoingBody.finish(body, None)
