// Sleeps (inside a host call, where epoch interruption cannot reach) for argv[1] seconds.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    printf("sleeping\n");
    fflush(stdout);
    sleep(argc > 1 ? atoi(argv[1]) : 3600);
    return 0;
}
