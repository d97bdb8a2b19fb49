// Exits with code 3 after writing to both streams.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    printf("about to exit 3\n");
    fprintf(stderr, "to stderr\n");
    exit(3);
}
