// Writes argv[1] lines (default 10), alternating stdout ("out N") and stderr ("err N"),
// flushing each, then exits with argv[2] (default 0).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int lines = argc > 1 ? atoi(argv[1]) : 10;
    for (int i = 0; i < lines; i++) {
        if (i % 2 == 0) {
            printf("out %d\n", i);
            fflush(stdout);
        } else {
            fprintf(stderr, "err %d\n", i);
            fflush(stderr);
        }
    }
    return argc > 2 ? atoi(argv[2]) : 0;
}
