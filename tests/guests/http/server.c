// A wasi:http/proxy server for wharf's tests, built as a reactor and componentized with the
// preview1 proxy adapter. Routes:
//   /          "hello from wasi:http\n"
//   /echo      the request body, streamed back
//   /count     a counter kept in a global: always 1 when every request has a fresh instance
//   /trap      traps          /spin   loops forever          /hog   allocates until it fails
//   /fetch/PORT  GETs http://127.0.0.1:PORT/ (wasi:http/outgoing-handler) and answers with
//              its status and body, or 502 "fetch failed: error-code N" when it is refused
//   /fetch/HOST:PORT  the same for http://HOST:PORT/ (a peer's name on a user network)
// Bindings in gen/ were generated with `wit-bindgen c wit --world hello-http` (0.63).
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gen/hello_http.h"

static int counter;
// Keeps /hog's blocks reachable, so the compiler cannot drop the allocations.
static char *volatile sink;

static void send(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
                 const char *text, size_t len) {
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_field_name_t name;
    hello_http_string_dup(&name, "content-type");
    wasi_http_types_field_value_t value = {(uint8_t *)"text/plain", 10};
    wasi_http_types_header_error_t herr;
    wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(headers), &name, &value, &herr);
    wasi_http_types_own_outgoing_response_t response = wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_method_outgoing_response_set_status_code(
        wasi_http_types_borrow_outgoing_response(response), status);
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_method_outgoing_response_body(wasi_http_types_borrow_outgoing_response(response), &body);
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(out, &result);
    wasi_io_streams_own_output_stream_t stream;
    wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream);
    // blocking-write-and-flush takes at most 4096 bytes at a time.
    for (size_t done = 0; done < len;) {
        size_t n = len - done < 4096 ? len - done : 4096;
        hello_http_list_u8_t chunk = {(uint8_t *)text + done, n};
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
                wasi_io_streams_borrow_output_stream(stream), &chunk, &err))
            break;
        done += n;
    }
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr);
}

static void echo(exports_wasi_http_incoming_handler_own_incoming_request_t request,
                 exports_wasi_http_incoming_handler_own_response_outparam_t out) {
    wasi_http_types_own_incoming_body_t in_body;
    wasi_http_types_method_incoming_request_consume(wasi_http_types_borrow_incoming_request(request), &in_body);
    wasi_io_streams_own_input_stream_t in;
    wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(in_body), &in);

    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_own_outgoing_response_t response = wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_method_outgoing_response_body(wasi_http_types_borrow_outgoing_response(response), &body);
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(out, &result);
    wasi_io_streams_own_output_stream_t stream;
    wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream);
    for (;;) {
        hello_http_list_u8_t chunk;
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(in), 4096, &chunk, &err))
            break; // closed: the whole body has been read
        if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
                wasi_io_streams_borrow_output_stream(stream), &chunk, &err))
            break;
        hello_http_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(in);
    wasi_http_types_incoming_body_drop_own(in_body);
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr);
}

// GET http://127.0.0.1:PORT/ (or http://HOST:PORT/ for a `target` of HOST:PORT) from inside the
// guest; the answer goes into `text` (at most `cap`).
static int fetch(const char *target, char *text, size_t cap) {
    wasi_http_types_own_outgoing_request_t req =
        wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
    wasi_http_types_borrow_outgoing_request_t borrowed = wasi_http_types_borrow_outgoing_request(req);
    wasi_http_types_scheme_t scheme = {.tag = WASI_HTTP_TYPES_SCHEME_HTTP};
    wasi_http_types_method_outgoing_request_set_scheme(borrowed, &scheme);
    char authority[64];
    if (strchr(target, ':'))
        snprintf(authority, sizeof authority, "%s", target);
    else
        snprintf(authority, sizeof authority, "127.0.0.1:%s", target);
    hello_http_string_t auth = {(uint8_t *)authority, strlen(authority)};
    wasi_http_types_method_outgoing_request_set_authority(borrowed, &auth);
    hello_http_string_t root = {(uint8_t *)"/", 1};
    wasi_http_types_method_outgoing_request_set_path_with_query(borrowed, &root);

    wasi_http_outgoing_handler_own_future_incoming_response_t future;
    wasi_http_outgoing_handler_error_code_t err;
    if (!wasi_http_outgoing_handler_handle(req, NULL, &future, &err)) {
        snprintf(text, cap, "fetch failed: error-code %d\n", err.tag);
        return 502;
    }
    wasi_http_types_borrow_future_incoming_response_t f =
        wasi_http_types_borrow_future_incoming_response(future);
    wasi_http_types_option_result_result_own_incoming_response_error_code_void_t got;
    while (!wasi_http_types_method_future_incoming_response_get(f, &got.val)) {
        wasi_http_types_own_pollable_t p = wasi_http_types_method_future_incoming_response_subscribe(f);
        wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
        wasi_io_poll_pollable_drop_own(p);
    }
    wasi_http_types_future_incoming_response_drop_own(future);
    if (got.val.is_err || got.val.val.ok.is_err) {
        snprintf(text, cap, "fetch failed: error-code %d\n",
                 got.val.is_err ? -1 : got.val.val.ok.val.err.tag);
        return 502;
    }
    wasi_http_types_own_incoming_response_t response = got.val.val.ok.val.ok;
    int status = wasi_http_types_method_incoming_response_status(
        wasi_http_types_borrow_incoming_response(response));
    wasi_http_types_own_incoming_body_t body;
    wasi_http_types_method_incoming_response_consume(wasi_http_types_borrow_incoming_response(response), &body);
    wasi_io_streams_own_input_stream_t in;
    wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body), &in);
    size_t len = 0;
    for (;;) {
        hello_http_list_u8_t chunk;
        wasi_io_streams_stream_error_t serr;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(in), 4096, &chunk, &serr))
            break;
        size_t n = chunk.len < cap - 1 - len ? chunk.len : cap - 1 - len;
        memcpy(text + len, chunk.ptr, n);
        len += n;
        hello_http_list_u8_free(&chunk);
    }
    text[len] = 0;
    wasi_io_streams_input_stream_drop_own(in);
    wasi_http_types_incoming_body_drop_own(body);
    wasi_http_types_incoming_response_drop_own(response);
    return status;
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t out) {
    hello_http_string_t path = {0};
    wasi_http_types_method_incoming_request_path_with_query(wasi_http_types_borrow_incoming_request(request), &path);
    char route[64] = {0};
    memcpy(route, path.ptr, path.len < 63 ? path.len : 63);
    if (strcmp(route, "/echo") == 0) {
        echo(request, out);
        wasi_http_types_incoming_request_drop_own(request);
        return;
    }
    wasi_http_types_incoming_request_drop_own(request);
    if (strcmp(route, "/trap") == 0) {
        __builtin_trap();
    } else if (strcmp(route, "/spin") == 0) {
        for (volatile int i = 0;; i++) {
        }
    } else if (strcmp(route, "/hog") == 0) {
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p) abort();
            memset(p, 1, 1 << 20);
            sink = p;
        }
    } else if (strcmp(route, "/count") == 0) {
        char text[32];
        int n = snprintf(text, sizeof text, "%d\n", ++counter);
        send(out, 200, text, n);
    } else if (strncmp(route, "/fetch/", 7) == 0) {
        static char text[4096];
        int status = fetch(route + 7, text, sizeof text);
        send(out, status, text, strlen(text));
    } else if (strcmp(route, "/") == 0) {
        const char *hello = "hello from wasi:http\n";
        send(out, 200, hello, strlen(hello));
    } else {
        send(out, 404, "not found\n", 10);
    }
}
