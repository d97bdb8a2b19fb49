// Echoes stdin back, upper-cased, then reports how many bytes it read.
#include <ctype.h>
#include <stdio.h>

int main(void) {
    long n = 0;
    int c;
    while ((c = getchar()) != EOF) { putchar(toupper(c)); n++; }
    printf("read %ld bytes\n", n);
    return 0;
}
