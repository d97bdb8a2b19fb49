// A preview1 TCP echo server on the listeners the host pre-opens (`wharf run -p` with a
// wasm32-wasip1 module): descriptors 3, 4, ..., LISTEN_FDS of them, as in systemd's socket
// activation.
//
//   listen NAME [FILE]   print FILE first when given (a mounted file: directories must still be
//                        found after the listeners), then "serving N listeners"; for each
//                        connection read one line and answer "NAME: LINE" (written with
//                        write(), or send() for every other connection). A line "quit" ends the
//                        server after its answer.
//
// With one listener it blocks in accept(); with several it polls them in non-blocking mode.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// Reads one line (without its newline) from the connection; returns its length, -1 on error.
static int read_line(int conn, char *line, size_t cap) {
  size_t len = 0;
  while (len + 1 < cap) {
    char c;
    ssize_t got = recv(conn, &c, 1, 0);
    if (got < 0) return -1;
    if (got == 0 || c == '\n') break;
    line[len++] = c;
  }
  line[len] = 0;
  return (int)len;
}

// Accepts the next connection on any of the n listeners.
static int next_connection(int n) {
  if (n == 1) return accept(3, NULL, NULL);
  for (;;) {
    for (int fd = 3; fd < 3 + n; fd++) {
      int conn = accept(fd, NULL, NULL);
      if (conn >= 0) {
        // The connection inherits nothing: make it blocking like the single-listener case.
        fcntl(conn, F_SETFL, 0);
        return conn;
      }
      if (errno != EAGAIN) return -1;
    }
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: listen NAME [FILE]\n");
    return 2;
  }
  const char *fds = getenv("LISTEN_FDS");
  int n = fds ? atoi(fds) : 0;
  if (n < 1) {
    fprintf(stderr, "error: no listener was handed over (LISTEN_FDS=%s)\n", fds ? fds : "unset");
    return 2;
  }
  if (argc > 2) {
    FILE *f = fopen(argv[2], "r");
    if (!f) {
      fprintf(stderr, "error: %s: %s\n", argv[2], strerror(errno));
      return 3;
    }
    char text[256];
    size_t got = fread(text, 1, sizeof text - 1, f);
    text[got] = 0;
    fclose(f);
    printf("file: %s\n", text);
  }
  if (n > 1) {
    for (int fd = 3; fd < 3 + n; fd++) {
      if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "error: fcntl %d: %s\n", fd, strerror(errno));
        return 1;
      }
    }
  }
  printf("serving %d listeners\n", n);
  fflush(stdout);
  for (int served = 0;; served++) {
    int conn = next_connection(n);
    if (conn < 0) {
      fprintf(stderr, "error: accept: %s\n", strerror(errno));
      return 1;
    }
    char line[1024], answer[1100];
    if (read_line(conn, line, sizeof line) < 0) {
      fprintf(stderr, "error: read: %s\n", strerror(errno));
      close(conn);
      continue;
    }
    int len = snprintf(answer, sizeof answer, "%s: %s\n", argv[1], line);
    ssize_t sent = served % 2 ? send(conn, answer, len, 0) : write(conn, answer, len);
    if (sent != len) fprintf(stderr, "error: short write: %zd of %d\n", sent, len);
    shutdown(conn, SHUT_WR);
    close(conn);
    if (strcmp(line, "quit") == 0) return 0;
  }
}
