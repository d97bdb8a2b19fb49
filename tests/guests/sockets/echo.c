// A wasi:sockets guest for the network tests: a TCP echo server, and a client.
//
//   echo serve PORT NAME [v6]   bind PORT on every address (IPv4, or IPv6 with `v6`), listen,
//                               print "listening on PORT" (the port the guest sees), then for
//                               each connection read one line and answer "NAME: LINE". A line
//                               "quit" ends the server after its answer. A line that starts
//                               "GET " is an HTTP request: its headers are read, and the
//                               answer is an HTTP/1.0 response with the same text as body.
//   echo connect HOST PORT LINE connect (HOST: an IPv4 address or a name to resolve), send
//                               LINE, print the answer. Errors go to stderr, exit code 1.
//
// Built by the test harness with clang as a reactor against the committed wit-bindgen C
// bindings in gen/ (see README.md), then made a component with the preview1 reactor adapter.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/echo_server.h"

typedef wasi_sockets_tcp_own_tcp_socket_t socket_t;

static const char *error_name(wasi_sockets_network_error_code_t code) {
  static const char *names[] = {
      "unknown",           "access-denied",     "not-supported",
      "invalid-argument",  "out-of-memory",     "timeout",
      "concurrency-conflict", "not-in-progress", "would-block",
      "invalid-state",     "new-socket-limit",  "address-not-bindable",
      "address-in-use",    "remote-unreachable", "connection-refused",
      "connection-reset",  "connection-aborted", "datagram-too-large",
      "name-unresolvable", "temporary-resolver-failure",
      "permanent-resolver-failure",
  };
  return code < sizeof(names) / sizeof(names[0]) ? names[code] : "?";
}

static bool fail(const char *what, wasi_sockets_network_error_code_t code) {
  fprintf(stderr, "error: %s: %s\n", what, error_name(code));
  return false;
}

static void wait_for(socket_t sock) {
  wasi_io_poll_own_pollable_t p =
      wasi_sockets_tcp_method_tcp_socket_subscribe(wasi_sockets_tcp_borrow_tcp_socket(sock));
  wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
  wasi_io_poll_pollable_drop_own(p);
}

// A stream read line by line: what a read brings past a line's end is kept for the next.
typedef struct {
  wasi_io_streams_own_input_stream_t in;
  uint8_t buf[4096];
  size_t start, end;
} reader_t;

// Reads until a newline or the end of the stream; returns a malloc'd, NUL-terminated line
// without its newline.
static char *read_line(reader_t *r) {
  size_t len = 0, cap = 256;
  char *line = malloc(cap);
  for (;;) {
    if (r->start == r->end) {
      echo_server_list_u8_t chunk;
      wasi_io_streams_stream_error_t err;
      if (!wasi_io_streams_method_input_stream_blocking_read(
              wasi_io_streams_borrow_input_stream(r->in), sizeof r->buf, &chunk, &err)) {
        break;
      }
      memcpy(r->buf, chunk.ptr, chunk.len);
      r->start = 0;
      r->end = chunk.len;
      echo_server_list_u8_free(&chunk);
    }
    while (r->start < r->end) {
      uint8_t c = r->buf[r->start++];
      if (c == '\n') {
        line[len] = 0;
        return line;
      }
      if (len + 1 >= cap) line = realloc(line, cap *= 2);
      line[len++] = c;
    }
  }
  line[len] = 0;
  return line;
}

static void write_all(wasi_io_streams_own_output_stream_t out, const char *text) {
  // blocking-write-and-flush takes at most 4096 bytes at a time.
  size_t len = strlen(text);
  while (len > 0) {
    size_t n = len < 4096 ? len : 4096;
    echo_server_list_u8_t bytes = {(uint8_t *)text, n};
    wasi_io_streams_stream_error_t err;
    if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
            wasi_io_streams_borrow_output_stream(out), &bytes, &err)) {
      return;
    }
    text += n;
    len -= n;
  }
}

static uint16_t local_port(socket_t sock) {
  wasi_sockets_tcp_ip_socket_address_t addr;
  wasi_sockets_network_error_code_t err;
  if (!wasi_sockets_tcp_method_tcp_socket_local_address(wasi_sockets_tcp_borrow_tcp_socket(sock),
                                                        &addr, &err)) {
    return 0;
  }
  return addr.tag == WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV4 ? addr.val.ipv4.port
                                                                  : addr.val.ipv6.port;
}

static bool serve(uint16_t port, const char *name, bool v6) {
  wasi_sockets_network_own_network_t net = wasi_sockets_instance_network_instance_network();
  socket_t sock;
  wasi_sockets_network_error_code_t err;
  if (!wasi_sockets_tcp_create_socket_create_tcp_socket(
          v6 ? WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV6 : WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4,
          &sock, &err)) {
    return fail("create socket", err);
  }
  wasi_sockets_tcp_ip_socket_address_t addr;
  memset(&addr, 0, sizeof addr);
  if (v6) {
    addr.tag = WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV6;
    addr.val.ipv6.port = port;
  } else {
    addr.tag = WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV4;
    addr.val.ipv4.port = port;
  }
  wasi_sockets_tcp_borrow_tcp_socket_t s = wasi_sockets_tcp_borrow_tcp_socket(sock);
  if (!wasi_sockets_tcp_method_tcp_socket_start_bind(s, wasi_sockets_network_borrow_network(net),
                                                     &addr, &err)) {
    return fail("bind", err);
  }
  while (!wasi_sockets_tcp_method_tcp_socket_finish_bind(s, &err)) {
    if (err != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) return fail("bind", err);
    wait_for(sock);
  }
  if (!wasi_sockets_tcp_method_tcp_socket_start_listen(s, &err)) return fail("listen", err);
  while (!wasi_sockets_tcp_method_tcp_socket_finish_listen(s, &err)) {
    if (err != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) return fail("listen", err);
    wait_for(sock);
  }
  printf("listening on %u\n", local_port(sock));
  fflush(stdout);

  for (;;) {
    wasi_sockets_tcp_tuple3_own_tcp_socket_own_input_stream_own_output_stream_t conn;
    if (!wasi_sockets_tcp_method_tcp_socket_accept(s, &conn, &err)) {
      if (err != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) return fail("accept", err);
      wait_for(sock);
      continue;
    }
    reader_t reader = {.in = conn.f1};
    char *line = read_line(&reader);
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r') line[--len] = 0;
    bool http = strncmp(line, "GET ", 4) == 0;
    if (http) {
      // The rest of the head, up to its empty line, so that closing loses nothing unread.
      for (;;) {
        char *header = read_line(&reader);
        bool end = header[0] == 0 || strcmp(header, "\r") == 0;
        free(header);
        if (end) break;
      }
      write_all(conn.f2, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
    }
    char *answer = malloc(strlen(name) + len + 4);
    sprintf(answer, "%s: %s\n", name, line);
    write_all(conn.f2, answer);
    bool quit = strcmp(line, "quit") == 0;
    free(answer);
    free(line);
    wasi_io_streams_output_stream_drop_own(conn.f2);
    wasi_io_streams_input_stream_drop_own(conn.f1);
    wasi_sockets_tcp_tcp_socket_drop_own(conn.f0);
    if (quit) return true;
  }
}

// Parses a dotted IPv4 address; returns false for anything else (then it is a name).
static bool parse_ipv4(const char *text, wasi_sockets_network_ipv4_address_t *out) {
  unsigned a, b, c, d;
  char extra;
  if (sscanf(text, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4) return false;
  *out = (wasi_sockets_network_ipv4_address_t){a, b, c, d};
  return true;
}

static bool resolve(wasi_sockets_network_own_network_t net, const char *host,
                    wasi_sockets_network_ipv4_address_t *out) {
  if (parse_ipv4(host, out)) return true;
  echo_server_string_t name = {(uint8_t *)host, strlen(host)};
  wasi_sockets_ip_name_lookup_own_resolve_address_stream_t stream;
  wasi_sockets_network_error_code_t err;
  if (!wasi_sockets_ip_name_lookup_resolve_addresses(wasi_sockets_network_borrow_network(net),
                                                     &name, &stream, &err)) {
    return fail("resolve", err);
  }
  wasi_sockets_ip_name_lookup_borrow_resolve_address_stream_t borrowed =
      wasi_sockets_ip_name_lookup_borrow_resolve_address_stream(stream);
  for (;;) {
    wasi_sockets_ip_name_lookup_option_ip_address_t next;
    if (!wasi_sockets_ip_name_lookup_method_resolve_address_stream_resolve_next_address(
            borrowed, &next, &err)) {
      if (err != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) return fail("resolve", err);
      wasi_io_poll_own_pollable_t p =
          wasi_sockets_ip_name_lookup_method_resolve_address_stream_subscribe(borrowed);
      wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
      wasi_io_poll_pollable_drop_own(p);
      continue;
    }
    if (!next.is_some) {
      fprintf(stderr, "error: resolve: %s has no IPv4 address\n", host);
      return false;
    }
    if (next.val.tag == WASI_SOCKETS_NETWORK_IP_ADDRESS_IPV4) {
      *out = next.val.val.ipv4;
      return true;
    }
  }
}

static bool connect_and_send(const char *host, uint16_t port, const char *line) {
  wasi_sockets_network_own_network_t net = wasi_sockets_instance_network_instance_network();
  wasi_sockets_tcp_ip_socket_address_t addr;
  memset(&addr, 0, sizeof addr);
  addr.tag = WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV4;
  addr.val.ipv4.port = port;
  if (!resolve(net, host, &addr.val.ipv4.address)) return false;

  socket_t sock;
  wasi_sockets_network_error_code_t err;
  if (!wasi_sockets_tcp_create_socket_create_tcp_socket(WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4,
                                                        &sock, &err)) {
    return fail("create socket", err);
  }
  wasi_sockets_tcp_borrow_tcp_socket_t s = wasi_sockets_tcp_borrow_tcp_socket(sock);
  if (!wasi_sockets_tcp_method_tcp_socket_start_connect(
          s, wasi_sockets_network_borrow_network(net), &addr, &err)) {
    return fail("connect", err);
  }
  wasi_sockets_tcp_tuple2_own_input_stream_own_output_stream_t io;
  while (!wasi_sockets_tcp_method_tcp_socket_finish_connect(s, &io, &err)) {
    if (err != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) return fail("connect", err);
    wait_for(sock);
  }
  char *request = malloc(strlen(line) + 2);
  sprintf(request, "%s\n", line);
  write_all(io.f1, request);
  free(request);
  reader_t reader = {.in = io.f0};
  char *answer = read_line(&reader);
  printf("%s\n", answer);
  free(answer);
  return true;
}

bool exports_wasi_cli_run_run(void) {
  echo_server_list_string_t args;
  wasi_cli_environment_get_arguments(&args);
  char *argv[8] = {0};
  size_t argc = args.len < 8 ? args.len : 8;
  for (size_t i = 0; i < argc; i++) {
    argv[i] = strndup((const char *)args.ptr[i].ptr, args.ptr[i].len);
  }
  if (argc >= 4 && strcmp(argv[1], "serve") == 0) {
    return serve(atoi(argv[2]), argv[3], argc >= 5 && strcmp(argv[4], "v6") == 0);
  }
  if (argc >= 5 && strcmp(argv[1], "connect") == 0) {
    return connect_and_send(argv[2], atoi(argv[3]), argv[4]);
  }
  fprintf(stderr, "usage: echo serve PORT NAME [v6] | echo connect HOST PORT LINE\n");
  return false;
}
