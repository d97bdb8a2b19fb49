// File operations on granted directories; each subcommand prints what happened so tests can
// check both successes and refusals.
//   files read PATH          print the file's contents
//   files write PATH TEXT    create/overwrite PATH with TEXT
//   files ls DIR             list a directory
//   files cwd                print getcwd()
//   files chdir DIR          chdir(DIR), then print getcwd()
//   files env NAME           print getenv(NAME), or "unset"
//   files append PATH TEXT [N]  append TEXT to PATH, then print the whole file; exit 1 while
//                            it is shorter than N bytes
//   files readloop PATH N MS read PATH N times, MS milliseconds apart; print each failure, then
//                            "N reads, K failed"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: files read|write|ls|cwd ...\n"); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "read") && argc == 3) {
        FILE *f = fopen(argv[2], "r");
        if (!f) { printf("open %s failed: %s\n", argv[2], strerror(errno)); return 1; }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
        return 0;
    }
    if (!strcmp(cmd, "write") && argc == 4) {
        FILE *f = fopen(argv[2], "w");
        if (!f) { printf("open %s failed: %s\n", argv[2], strerror(errno)); return 1; }
        if (fputs(argv[3], f) < 0 || fclose(f) != 0) {
            printf("write %s failed: %s\n", argv[2], strerror(errno));
            return 1;
        }
        printf("wrote %s\n", argv[2]);
        return 0;
    }
    if (!strcmp(cmd, "ls") && argc == 3) {
        DIR *d = opendir(argv[2]);
        if (!d) { printf("opendir %s failed: %s\n", argv[2], strerror(errno)); return 1; }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) printf("%s\n", e->d_name);
        }
        closedir(d);
        return 0;
    }
    if (!strcmp(cmd, "cwd")) {
        char buf[1024];
        if (!getcwd(buf, sizeof buf)) { printf("getcwd failed: %s\n", strerror(errno)); return 1; }
        printf("%s\n", buf);
        return 0;
    }
    if (!strcmp(cmd, "env") && argc == 3) {
        const char *value = getenv(argv[2]);
        printf("%s\n", value ? value : "unset");
        return 0;
    }
    if (!strcmp(cmd, "chdir") && argc == 3) {
        if (chdir(argv[2])) { printf("chdir %s failed: %s\n", argv[2], strerror(errno)); return 1; }
        char buf[1024];
        printf("%s\n", getcwd(buf, sizeof buf) ? buf : "?");
        return 0;
    }
    if (!strcmp(cmd, "append") && (argc == 4 || argc == 5)) {
        FILE *f = fopen(argv[2], "a");
        if (!f) { printf("open %s failed: %s\n", argv[2], strerror(errno)); return 1; }
        fputs(argv[3], f);
        fclose(f);
        f = fopen(argv[2], "r");
        if (!f) { printf("reopen %s failed: %s\n", argv[2], strerror(errno)); return 1; }
        char buf[4096];
        size_t n, total = 0;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            fwrite(buf, 1, n, stdout);
            total += n;
        }
        fclose(f);
        printf("\n");
        return argc == 5 && total < (size_t)atoi(argv[4]) ? 1 : 0;
    }
    if (!strcmp(cmd, "readloop") && argc == 5) {
        int count = atoi(argv[3]), ms = atoi(argv[4]), failed = 0;
        for (int i = 0; i < count; i++) {
            FILE *f = fopen(argv[2], "r");
            if (!f) {
                printf("read %d of %s failed: %s\n", i, argv[2], strerror(errno));
                failed++;
            } else {
                fclose(f);
            }
            fflush(stdout);
            usleep(ms * 1000);
        }
        printf("%d reads, %d failed\n", count, failed);
        return failed ? 1 : 0;
    }
    fprintf(stderr, "files: bad arguments\n");
    return 2;
}
