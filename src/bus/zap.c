/* SPDX-License-Identifier: MIT */
/*
 * A REP socket on inproc://zeromq.zap.01, where libzmq sends its requests. Each is
 * answered at once, from the allow-list in memory. Requests for
 * other mechanisms than CURVE are refused (the guarded sockets speak CURVE only).
 * Like every ZeroMQ socket here its fd is edge-like, so each wake-up answers requests
 * until there are none.
 *
 * The watch stats the directory rather than asking inotify: one system call a second,
 * which the sandbox allows already, and it sees the directory replaced as well as its
 * entries changed. A key file rewritten in place keeps the directory's times: replace it
 * (write another file, rename it over) or remove it, as docs/scale-out.md says.
 */

#include "zap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "keys.h"

#define ZAP_FRAMES 7

struct Zap {
    void *sock;
    sd_event_source *source, *watch;
    char *allow_dir;
    ZapCallbacks cb;
    struct stat seen; /* the directory at the last reading; st_ino 0 while it is missing */
    KeyList allowed;
};

/* The directory as it is now: its stat, or zeros when it cannot be read. */
static struct stat allow_dir_now(const Zap *z) {
    struct stat st;

    if (stat(z->allow_dir, &st) < 0)
        memset(&st, 0, sizeof(st));
    return st;
}

static bool same_times(const struct timespec *a, const struct timespec *b) {
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Reads the allow-list again if the directory may have changed since the last reading,
 * and tells the caller. The stat comes first: a change during the reading is seen next time.
 * A directory that cannot be read admits nobody (st_ino 0 says so).
 */
static void refresh(Zap *z) {
    struct stat now = allow_dir_now(z);

    if (now.st_ino == z->seen.st_ino && now.st_dev == z->seen.st_dev && same_times(&now.st_mtim, &z->seen.st_mtim) &&
        same_times(&now.st_ctim, &z->seen.st_ctim))
        return;
    if (now.st_ino == 0 || keys_read_allow_list(z->allow_dir, &z->allowed) < 0) {
        keys_list_done(&z->allowed); /* unreadable: nobody is admitted */
        now.st_ino = 0;
    }
    z->seen = now;
    z->cb.on_change(z->cb.userdata);
}

void zap_reread(Zap *z) {
    memset(&z->seen, 0, sizeof(z->seen));
    z->seen.st_ino = (ino_t)-1; /* matches no directory: refresh() reads it */
    refresh(z);
}

bool zap_admits(const Zap *z, const char *key) {
    return keys_listed(&z->allowed, key);
}

static void reply(Zap *z, const zmq_msg_t *request_id, const char *code, const char *text, const char *user) {
    zmq_msg_t id;

    zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_msg_init(&id);
    zmq_msg_copy(&id, (zmq_msg_t *)request_id);
    zmq_msg_send(&id, z->sock, ZMQ_SNDMORE);
    zmq_send(z->sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(z->sock, "", 0, 0);
}

static void handle(Zap *z, zmq_msg_t *f, size_t n) {
    char address[64] = "", key[KEY_Z85_LEN + 1];
    size_t alen;

    if (n >= 4) {
        alen = zmq_msg_size(&f[3]) < sizeof(address) - 1 ? zmq_msg_size(&f[3]) : sizeof(address) - 1;
        memcpy(address, zmq_msg_data(&f[3]), alen);
        address[alen] = '\0';
    }
    if (n < 2)
        return; /* not even a request id: nothing can be answered */
    if (n != ZAP_FRAMES || zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 ||
        zmq_msg_size(&f[6]) != 32) {
        z->cb.on_reject(address, NULL, "not a CURVE handshake", z->cb.userdata);
        reply(z, &f[1], "400", "CURVE only", "");
        return;
    }
    zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
    refresh(z);
    if (zap_admits(z, key)) {
        reply(z, &f[1], "200", "OK", key);
        return;
    }
    z->cb.on_reject(address, key, z->seen.st_ino ? "public key not in the allow-list" : "allow-list unreadable",
                    z->cb.userdata);
    reply(z, &f[1], "400", "not allowed", "");
}

/* Reads one request's frames into f (at most ZAP_FRAMES kept); how many came, or -1 for none. */
static int receive(Zap *z, zmq_msg_t *f) {
    int n = 0, more;

    do {
        zmq_msg_t extra, *m = n < ZAP_FRAMES ? &f[n] : &extra;

        zmq_msg_init(m);
        /* the first frame may be absent; the others come with it */
        if (zmq_msg_recv(m, z->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(m);
            return n == 0 ? -1 : n;
        }
        more = zmq_msg_more(m);
        if (m == &extra)
            zmq_msg_close(m);
        n++;
    } while (more);
    return n;
}

static int on_request(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Zap *z = userdata;
    zmq_msg_t f[ZAP_FRAMES];
    int n;

    while ((n = receive(z, f)) >= 0) {
        handle(z, f, (size_t)n);
        for (int i = 0; i < n && i < ZAP_FRAMES; i++)
            zmq_msg_close(&f[i]);
    }
    return 0;
}

static int on_watch(sd_event_source *s, uint64_t usec, void *userdata) {
    refresh(userdata);
    return sd_event_source_set_time(s, usec + ZAP_WATCH_USEC);
}

int zap_new(sd_event *e, void *ctx, const char *allow_dir, const ZapCallbacks *cb, Zap **ret) {
    _cleanup_(zap_freep) Zap *z = calloc(1, sizeof(*z));
    size_t len = sizeof(int);
    uint64_t now;
    int fd, linger = 0;

    if (!z)
        return -ENOMEM;
    z->cb = *cb;
    z->allow_dir = strdup(allow_dir);
    if (!z->allow_dir)
        return -ENOMEM;
    z->sock = zmq_socket(ctx, ZMQ_REP);
    if (!z->sock)
        return -errno;
    if (zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") < 0 || zmq_getsockopt(z->sock, ZMQ_FD, &fd, &len) < 0)
        return -errno;
    if (sd_event_add_io(e, &z->source, fd, EPOLLIN, on_request, z) < 0)
        return -EIO;
    z->seen = allow_dir_now(z);
    if (z->seen.st_ino != 0 && keys_read_allow_list(z->allow_dir, &z->allowed) < 0)
        z->seen.st_ino = 0;
    (void)on_request(z->source, fd, 0, z); /* ZMQ_FD only signals changes: read once now */
    (void)sd_event_now(e, CLOCK_MONOTONIC, &now);
    /* A quarter of a second of slack lets the loop wake for this and the reaper at once. */
    if (sd_event_add_time(e, &z->watch, CLOCK_MONOTONIC, now + ZAP_WATCH_USEC, ZAP_WATCH_USEC / 4, on_watch, z) < 0 ||
        sd_event_source_set_enabled(z->watch, SD_EVENT_ON) < 0)
        return -EIO;
    *ret = TAKE_PTR(z);
    return 0;
}

Zap *zap_free(Zap *z) {
    if (!z)
        return NULL;
    sd_event_source_disable_unref(z->source);
    sd_event_source_disable_unref(z->watch);
    if (z->sock)
        zmq_close(z->sock);
    keys_list_done(&z->allowed);
    free(z->allow_dir);
    free(z);
    return NULL;
}
