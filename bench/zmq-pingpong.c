/* SPDX-License-Identifier: MIT */
/*
 * The floor under workers mode: one libzmq ipc round trip between two processes, as the front
 * end (ROUTER, binds) and a worker (DEALER, connects) make one, with a message the size of a
 * job of ten numbers. No sqdiff code: what ZeroMQ itself costs on this machine.
 *
 *     zmq-pingpong [ROUND_TRIPS]     (default 20000, after 2000 unmeasured)
 *
 * prints one JSON object: the round trips' p50 and p99 in microseconds, and the CPU time
 * (user + system) of both processes, all their threads, per round trip. bench/bench.py runs it
 * once per round, beside the servers.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <zmq.h>

#define WARMUP 2000
#define MESSAGE "{\"id\":1796557703395372689,\"numbers\":[1,2,3,4,5,6,7,8,9,10]}"

static void die(const char *what) {
    fprintf(stderr, "zmq-pingpong: %s: %s\n", what, zmq_strerror(errno));
    exit(EXIT_FAILURE);
}

static double now_us(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(const struct rusage *r) {
    return r->ru_utime.tv_sec * 1e6 + r->ru_utime.tv_usec + r->ru_stime.tv_sec * 1e6 + r->ru_stime.tv_usec;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The worker's side: says hello, then echoes every message until an empty one. */
static int echo(const char *endpoint) {
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    char buf[256];
    int n;

    if (!s || zmq_connect(s, endpoint) < 0 || zmq_send(s, "", 0, 0) < 0)
        die("worker");
    while ((n = zmq_recv(s, buf, sizeof(buf), 0)) > 0)
        if (zmq_send(s, buf, (size_t)n, 0) < 0)
            die("worker send");
    zmq_close(s);
    zmq_ctx_term(ctx);
    return n < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    char dir[] = "/tmp/zmq-pingpong.XXXXXX", endpoint[64], id[256], buf[256];
    struct rusage self0, self1, child;
    double *rtt, cpu0;
    void *ctx, *s;
    int id_len, status;
    pid_t pid;

    if (rounds < 1 || !(rtt = calloc((size_t)rounds, sizeof(*rtt))) || !mkdtemp(dir))
        die("setup");
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/s", dir);
    pid = fork(); /* before any context: the worker connects, and retries until the bind */
    if (pid < 0)
        die("fork");
    if (pid == 0)
        _exit(echo(endpoint));
    ctx = zmq_ctx_new();
    s = zmq_socket(ctx, ZMQ_ROUTER);
    if (!s || zmq_bind(s, endpoint) < 0)
        die("bind");
    id_len = zmq_recv(s, id, sizeof(id), 0); /* the hello: [routing id][""] */
    if (id_len <= 0 || zmq_recv(s, buf, sizeof(buf), 0) < 0)
        die("hello");

    cpu0 = 0;
    for (long i = -WARMUP; i < rounds; i++) {
        double t0;

        if (i == 0) {
            getrusage(RUSAGE_SELF, &self0);
            cpu0 = cpu_us(&self0);
        }
        t0 = now_us();
        if (zmq_send(s, id, (size_t)id_len, ZMQ_SNDMORE) < 0 || zmq_send(s, MESSAGE, strlen(MESSAGE), 0) < 0 ||
            zmq_recv(s, id, sizeof(id), 0) != id_len || zmq_recv(s, buf, sizeof(buf), 0) != (int)strlen(MESSAGE))
            die("round trip");
        if (i >= 0)
            rtt[i] = now_us() - t0;
    }
    getrusage(RUSAGE_SELF, &self1);
    if (zmq_send(s, id, (size_t)id_len, ZMQ_SNDMORE) < 0 || zmq_send(s, "", 0, 0) < 0)
        die("stop");
    if (wait4(pid, &status, 0, &child) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("worker exit");
    zmq_close(s);
    zmq_ctx_term(ctx);
    unlink(endpoint + strlen("ipc://"));
    rmdir(dir);

    qsort(rtt, (size_t)rounds, sizeof(*rtt), compare_double);
    /* The worker's CPU counts its warm-up too: a small overestimate, at most WARMUP/rounds. */
    printf("{\"round_trips\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"cpu_us_per_round_trip\":%.1f}\n", rounds,
           rtt[rounds / 2], rtt[rounds * 99 / 100], (cpu_us(&self1) - cpu0 + cpu_us(&child)) / (double)rounds);
    free(rtt);
    return 0;
}
