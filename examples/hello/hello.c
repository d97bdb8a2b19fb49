// The bundled example: greets with $GREETING and prints the file named by its first argument,
// which is only reachable because `wharf run -v` granted its directory.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *greeting = getenv("GREETING");
    printf("%s from a WebAssembly sandbox!\n", greeting ? greeting : "hello");
    if (argc < 2) return 0;
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 1; }
    char line[256];
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    fclose(f);
    return 0;
}
