/* SPDX-License-Identifier: MIT */
/*
 * sqdiff-keygen: makes a CURVE key pair for a front end or a worker (docs/scale-out.md).
 * Writes NAME.secret (mode 0600, the secret key) and NAME.pub (0644, the public key),
 * each one Z85 line (keys.h). Refuses to overwrite either, and writes through a
 * temporary file renamed into place, so a key file is never seen half written.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define Z85_LEN 40

static int write_key(const char *name, const char *suffix, const char *key, mode_t mode) {
    char path[4096], tmp[4096 + 16], line[Z85_LEN + 2];
    int fd, r = 0;

    if (snprintf(path, sizeof(path), "%s.%s", name, suffix) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "%s exists; not overwriting it\n", path);
        return -EEXIST;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        r = -errno;
        fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
        return r;
    }
    snprintf(line, sizeof(line), "%s\n", key);
    if (fchmod(fd, mode) < 0 || write(fd, line, Z85_LEN + 1) != Z85_LEN + 1 || fsync(fd) < 0)
        r = -(errno ? errno : EIO);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    /* link() refuses an existing target, unlike rename(): two keygens cannot overwrite each other */
    if (r == 0 && link(tmp, path) < 0)
        r = -errno;
    unlink(tmp);
    if (r < 0)
        fprintf(stderr, "%s: %s\n", path, strerror(-r));
    return r;
}

int main(int argc, char **argv) {
    char public_[Z85_LEN + 1], secret[Z85_LEN + 1];
    int r;

    if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0') {
        fprintf(stderr, "Usage: sqdiff-keygen NAME\n\n"
                        "Writes a CURVE key pair: NAME.secret (mode 0600) and NAME.pub (0644).\n"
                        "Give NAME.secret to one daemon only (LoadCredential=), NAME.pub to its peers.\n");
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    if (zmq_curve_keypair(public_, secret) < 0) {
        fprintf(stderr, "This libzmq cannot make CURVE keys: %s\n", zmq_strerror(errno));
        return EXIT_FAILURE;
    }
    umask(077);
    r = write_key(argv[1], "secret", secret, 0600);
    explicit_bzero(secret, sizeof(secret));
    if (r == 0)
        r = write_key(argv[1], "pub", public_, 0644);
    if (r < 0)
        return EXIT_FAILURE;
    printf("%s.secret %s.pub %s\n", argv[1], argv[1], public_);
    return EXIT_SUCCESS;
}
