// The bundled wasi:http example: answers every request with a greeting and the path asked
// for. wharf serves it on the published port, with a fresh instance per request.
//
// Built with clang as a reactor against the wit-bindgen C bindings of the wasi:http/proxy
// world (tests/guests/http/gen), then made a component with the preview1 proxy adapter; see
// scripts/example.sh and the README's recipe.
#include <stdio.h>
#include <string.h>

#include "hello_http.h"

static void respond(exports_wasi_http_incoming_handler_own_response_outparam_t out,
                    const char *text) {
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_method_outgoing_response_body(
        wasi_http_types_borrow_outgoing_response(response), &body);
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(out, &result);
    wasi_io_streams_own_output_stream_t stream;
    wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream);
    hello_http_list_u8_t chunk = {(uint8_t *)text, strlen(text)};
    wasi_io_streams_stream_error_t err;
    wasi_io_streams_method_output_stream_blocking_write_and_flush(
        wasi_io_streams_borrow_output_stream(stream), &chunk, &err);
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t finish_err;
    wasi_http_types_static_outgoing_body_finish(body, NULL, &finish_err);
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t out) {
    hello_http_string_t path = {0};
    wasi_http_types_method_incoming_request_path_with_query(
        wasi_http_types_borrow_incoming_request(request), &path);
    wasi_http_types_incoming_request_drop_own(request);
    char text[256];
    snprintf(text, sizeof text, "ahoy from wasi:http: you asked for %.*s\n",
             (int)(path.len < 128 ? path.len : 128), (const char *)path.ptr);
    respond(out, text);
}
