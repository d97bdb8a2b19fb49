// Announces itself, then computes forever without calling the host: only epoch interruption
// can stop it.
#include <stdio.h>

int main(void) {
    printf("spinning\n");
    fflush(stdout);
    volatile unsigned long n = 0;
    for (;;) n++;
}
