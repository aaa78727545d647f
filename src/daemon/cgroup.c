/* SPDX-License-Identifier: MIT */
/*
 * The cgroup's memory limit (cgroup.h): walks up from the process's cgroup to the root, in
 * the unified hierarchy (cgroup v2: memory.high, memory.max) and in the v1 memory one
 * (memory.limit_in_bytes, which systemd sets from MemoryMax= there; v1 has no MemoryHigh=).
 */

#include "cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
/* v1 says "no limit" with a page-rounded LONG_MAX; anything this large is none. */
#define V1_UNLIMITED (UINT64_C(1) << 62)

/* A limit file: its value, or UINT64_MAX for "max", none, or a file that is not there. */
static uint64_t read_limit(const char *dir, const char *name) {
    char path[PATH_MAX], text[32] = "";
    _cleanup_fclose_ FILE *f = NULL;
    char *end;
    uint64_t v;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) || !(f = fopen(path, "re")) ||
        !fgets(text, sizeof(text), f))
        return UINT64_MAX;
    errno = 0;
    v = strtoull(text, &end, 10);
    return errno != 0 || end == text || v >= V1_UNLIMITED ? UINT64_MAX : v;
}

/* The lowest value of the named files in root/path and each directory above it, up to root. */
static uint64_t lowest_up(const char *root, const char *path, const char *const *names) {
    char dir[PATH_MAX];
    uint64_t low = UINT64_MAX;
    char *slash;

    if ((size_t)snprintf(dir, sizeof(dir), "%s%s", root, strcmp(path, "/") == 0 ? "" : path) >= sizeof(dir))
        return UINT64_MAX;
    for (;;) {
        for (const char *const *n = names; *n; n++) {
            uint64_t v = read_limit(dir, *n);
            low = v < low ? v : low;
        }
        if (strcmp(dir, root) == 0 || !(slash = strrchr(dir, '/')))
            return low;
        *slash = '\0';
    }
}

/* Whether a v1 line's controller list ("cpu,cpuacct") names the memory controller. */
static bool has_memory(const char *controllers, size_t len) {
    for (const char *p = controllers, *end = controllers + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = (size_t)((comma ? comma : end) - p);

        if (n == 6 && memcmp(p, "memory", 6) == 0)
            return true;
        p += n + 1;
    }
    return false;
}

int cgroup_memory_limit(uint64_t *ret) {
    static const char *const high[] = { "memory.high", NULL }, *const max[] = { "memory.max", NULL },
                             *const v1[] = { "memory.limit_in_bytes", NULL };
    _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
    /* The unified hierarchy is at the root, or beside the v1 ones (systemd's "hybrid"). */
    const char *unified = access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0 ? CGROUP_ROOT : CGROUP_ROOT "/unified";
    uint64_t h = UINT64_MAX, m = UINT64_MAX;
    char line[PATH_MAX];

    *ret = 0;
    if (!f)
        return -errno;
    /* "0::/PATH" is cgroup v2's line, "N:CONTROLLERS:/PATH" a v1 hierarchy's. */
    while (fgets(line, sizeof(line), f)) {
        char *first = strchr(line, ':'), *second = first ? strchr(first + 1, ':') : NULL;

        line[strcspn(line, "\n")] = '\0';
        if (!second || second[1] != '/')
            continue;
        if (second == first + 1) {
            uint64_t v = lowest_up(unified, second + 1, high);
            h = v < h ? v : h;
            v = lowest_up(unified, second + 1, max);
            m = v < m ? v : m;
        } else if (has_memory(first + 1, (size_t)(second - first - 1))) {
            uint64_t v = lowest_up(CGROUP_ROOT "/memory", second + 1, v1);
            m = v < m ? v : m;
        }
    }
    h = m < h ? m : h;
    *ret = h != UINT64_MAX ? h : 0;
    return 0;
}
