/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for libFuzzer's main(), linked with a fuzz driver in every normal
 * build: feeds each file named on the command line, and every regular file of
 * each directory named, to LLVMFuzzerTestOneInput() once. The inputs are read
 * into buffers of exactly their size, so a sanitized build catches overreads.
 * A driver aborts on a violated property; reading nothing at all is a failure
 * too, so that a mistyped corpus path cannot pass silently.
 */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t size = 0;
    long end;
    int r = -1;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
        goto out;
    size = (size_t)end;
    buf = malloc(size ? size : 1);
    if (!buf || fread(buf, 1, size, f) != size)
        goto out;
    LLVMFuzzerTestOneInput(buf, size);
    r = 0;
out:
    if (r < 0)
        fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    fclose(f);
    return r;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir, in name order so that a run is reproducible; returns the count or -1. */
static long run_dir(const char *dir) {
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, NULL);
    long count = 0;

    if (n < 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    qsort(list, (size_t)n, sizeof(*list), cmp_names);
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        if (count >= 0 && list[i]->d_name[0] != '.' &&
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) < sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode))
            count = run_file(path) < 0 ? -1 : count + 1;
        free(list[i]);
    }
    free(list);
    return count;
}

int main(int argc, char **argv) {
    long total = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return EXIT_FAILURE;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) < 0 ? -1 : 1;
        if (n < 0)
            return EXIT_FAILURE;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE...: no inputs given\n", argv[0]);
        return EXIT_FAILURE;
    }
    printf("%ld inputs replayed\n", total);
    return EXIT_SUCCESS;
}
