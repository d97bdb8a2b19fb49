// File operations on granted directories; each subcommand prints what happened so tests can
// check both successes and refusals.
//   files read PATH          print the file's contents
//   files write PATH TEXT    create/overwrite PATH with TEXT
//   files ls DIR             list a directory
//   files cwd                print getcwd()
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
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
    fprintf(stderr, "files: bad arguments\n");
    return 2;
}
