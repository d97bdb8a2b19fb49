// Allocates and touches memory 1 MiB at a time until it has MiB megabytes (argv[1]) or malloc
// fails; on failure it aborts, which is how most runtimes' allocators die.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *volatile sink;
static volatile unsigned long total;

int main(int argc, char **argv) {
    int want = argc > 1 ? atoi(argv[1]) : 1 << 30;
    for (int i = 0; i < want; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            fprintf(stderr, "memhog: malloc failed after %d MiB\n", i);
            abort();
        }
        memset(p, i, 1 << 20);
        // Keep the block reachable so the compiler cannot drop the allocation.
        sink = p;
        total += (unsigned char)p[i % (1 << 20)];
    }
    printf("memhog: got %d MiB\n", want);
    return 0;
}
