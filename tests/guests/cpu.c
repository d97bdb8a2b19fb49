// CPU-bound work: N rounds of an xorshift + FNV-style mix over a 1 MiB buffer. Prints a checksum
// so that the wasm and native builds can be compared.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (1 << 20)

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    static uint32_t buf[SIZE / 4];
    uint32_t x = 2463534242u;
    for (int i = 0; i < SIZE / 4; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; buf[i] = x; }
    uint64_t h = 1469598103934665603ull;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < SIZE / 4; i++) {
            h = (h ^ buf[i]) * 1099511628211ull;
            buf[i] = (uint32_t)(h >> 29) ^ buf[(i * 7 + r) & (SIZE / 4 - 1)];
        }
    }
    printf("checksum %016llx\n", (unsigned long long)h);
    return 0;
}
