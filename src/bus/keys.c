/* SPDX-License-Identifier: MIT */
/*
 * Key files are small: anything longer than a key and some whitespace is not one.
 * Z85 text is checked by decoding it (zmq_z85_decode), so a typo is found at start,
 * not as a failed handshake later.
 */

#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "macro.h"

static void closedirp(DIR **d) {
    if (*d)
        closedir(*d);
}

/* Reads a key from an open file: 0 with ret (KEY_Z85_LEN + 1) set, -EBADMSG when it holds none. */
static int read_key_fd(int fd, char *ret) {
    char buf[KEY_Z85_LEN + 64];
    uint8_t raw[32];
    ssize_t n;
    size_t len;

    n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    if (len != KEY_Z85_LEN)
        return -EBADMSG;
    buf[len] = '\0';
    if (!zmq_z85_decode(raw, buf))
        return -EBADMSG;
    memcpy(ret, buf, KEY_Z85_LEN + 1);
    return 0;
}

static int read_key(int dirfd, const char *path, char *ret) {
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    return read_key_fd(fd, ret);
}

int keys_load_secret(const char *path, char *ret_secret, char *ret_public) {
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    _cleanup_close_ int dirfd = -1;
    char secret[KEY_Z85_LEN + 1], public_[KEY_Z85_LEN + 1];
    int r;

    if (path[0] != '/') {
        if (!creds || !creds[0])
            return -ENOKEY;
        dirfd = open(creds, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return -errno;
    }
    r = read_key(path[0] == '/' ? AT_FDCWD : dirfd, path, secret);
    if (r < 0)
        return r;
    if (zmq_curve_public(public_, secret) < 0)
        return -errno;
    memcpy(ret_secret, secret, sizeof(secret));
    memcpy(ret_public, public_, sizeof(public_));
    explicit_bzero(secret, sizeof(secret));
    return 0;
}

int keys_load_public(const char *path, char *ret_public) {
    return read_key(AT_FDCWD, path, ret_public);
}

/* A key file's name: NAME.pub, not hidden. Editors' backups (NAME.pub~, .NAME.pub.swp),
 * files being written (.NAME.pub.tmp, NAME.pub.dpkg-new) and other names are not keys. */
static bool is_key_name(const char *name) {
    size_t len = strlen(name);

    return name[0] != '.' && len > 4 && strcmp(name + len - 4, ".pub") == 0;
}

static int key_compare(const void *a, const void *b) {
    return strcmp(a, b);
}

int keys_read_allow_list(const char *dir, KeyList *ret) {
    _cleanup_(closedirp) DIR *d = opendir(dir);
    _cleanup_free_ char(*key)[KEY_Z85_LEN + 1] = NULL;
    size_t n = 0, size = 0;
    struct dirent *de;

    if (!d)
        return -errno;
    while ((errno = 0, de = readdir(d))) {
        struct stat st;
        _cleanup_close_ int fd = -1;

        if (!is_key_name(de->d_name))
            continue;
        fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == size) {
            size_t grown = size ? 2 * size : 16;
            void *p = reallocarray(key, grown, sizeof(*key));

            if (!p)
                return -ENOMEM;
            key = p;
            size = grown;
        }
        if (read_key_fd(fd, key[n]) == 0)
            n++;
    }
    if (errno > 0)
        return -errno;
    if (n > 0)
        qsort(key, n, sizeof(*key), key_compare);
    keys_list_done(ret);
    *ret = (KeyList){ .key = TAKE_PTR(key), .n = n };
    return 0;
}

bool keys_listed(const KeyList *l, const char *public_key) {
    return public_key && l->n > 0 && bsearch(public_key, l->key, l->n, sizeof(*l->key), key_compare);
}

void keys_list_done(KeyList *l) {
    free(l->key);
    *l = (KeyList){ 0 };
}
