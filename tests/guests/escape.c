// Tries to reach the host outside its mounts; prints one line per attempt: "PATH: ok" or
// "PATH: denied (reason)". Tests assert that every attempt is denied.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) { printf("%s: ok\n", path); close(fd); }
    else printf("%s: denied (%s)\n", path, strerror(errno));
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) try_open(argv[i]);
    return 0;
}
