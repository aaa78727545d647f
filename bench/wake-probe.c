/* SPDX-License-Identifier: MIT */
/*
 * What one thread waking another costs on this machine, with nothing else in the way: two
 * threads hand a token back and forth through two eventfds, first both on one CPU, then on
 * two. Every hand-over in workers mode (front end, workers, their ZeroMQ I/O threads) and every
 * request at one connection (the load generator waking the server) is such a wake-up, so this
 * is what separates figures taken with everything on one CPU from figures taken across two.
 *
 *     wake-probe CPU_A CPU_B [ROUND_TRIPS]     (default 20000, after 2000 unmeasured)
 *
 * prints one JSON object: per round trip (two wake-ups) its p50 in microseconds and the CPU
 * time (user + system) of both threads, for the pair on CPU_A alone ("same_cpu") and on CPU_A
 * and CPU_B ("two_cpus"). bench/bench.py runs it once, on the CPUs it gives the load generator
 * and the servers.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#define WARMUP 2000

typedef struct Pair {
    int ping, pong; /* eventfds: the main thread writes ping, the peer answers on pong */
    int peer_cpu;
    long rounds;
} Pair;

static void die(const char *what) {
    fprintf(stderr, "wake-probe: %s: %s\n", what, strerror(errno));
    exit(EXIT_FAILURE);
}

static double now_us(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* CPU time of the whole process (both threads), in microseconds. */
static double cpu_us(void) {
    struct rusage r;

    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_sec * 1e6 + r.ru_stime.tv_usec;
}

static void pin(int cpu) {
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        die("sched_setaffinity");
}

static void hand(int fd) {
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one))
        die("write");
}

static void take(int fd) {
    uint64_t v;

    if (read(fd, &v, sizeof(v)) != sizeof(v))
        die("read");
}

static void *peer(void *userdata) {
    Pair *p = userdata;

    pin(p->peer_cpu);
    for (long i = -WARMUP; i < p->rounds; i++) {
        take(p->ping);
        hand(p->pong);
    }
    return NULL;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Round trips between a thread on cpu and one on peer_cpu: p50 and CPU per round trip. */
static void measure(int cpu, int peer_cpu, long rounds, double *rtt, double *ret_p50, double *ret_cpu) {
    Pair p = {
        .ping = eventfd(0, EFD_CLOEXEC), .pong = eventfd(0, EFD_CLOEXEC), .peer_cpu = peer_cpu, .rounds = rounds
    };
    pthread_t t;
    double cpu0 = 0;

    if (p.ping < 0 || p.pong < 0)
        die("eventfd");
    pin(cpu);
    errno = pthread_create(&t, NULL, peer, &p);
    if (errno)
        die("pthread_create");
    for (long i = -WARMUP; i < rounds; i++) {
        double t0;

        if (i == 0)
            cpu0 = cpu_us();
        t0 = now_us();
        hand(p.ping);
        take(p.pong);
        if (i >= 0)
            rtt[i] = now_us() - t0;
    }
    *ret_cpu = (cpu_us() - cpu0) / (double)rounds;
    errno = pthread_join(t, NULL);
    if (errno)
        die("pthread_join");
    close(p.ping);
    close(p.pong);
    qsort(rtt, (size_t)rounds, sizeof(*rtt), compare_double);
    *ret_p50 = rtt[rounds / 2];
}

int main(int argc, char **argv) {
    int a, b;
    long rounds;
    double *rtt = NULL, same_p50, same_cpu, two_p50, two_cpu;

    if (argc < 3) {
        fprintf(stderr, "usage: wake-probe CPU_A CPU_B [ROUND_TRIPS]\n");
        return EXIT_FAILURE;
    }
    a = atoi(argv[1]);
    b = atoi(argv[2]);
    rounds = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;
    if (rounds >= 1)
        rtt = calloc((size_t)rounds, sizeof(*rtt));
    if (!rtt)
        die("setup");
    measure(a, a, rounds, rtt, &same_p50, &same_cpu);
    measure(a, b, rounds, rtt, &two_p50, &two_cpu);
    printf("{\"round_trips\":%ld,\"same_cpu\":{\"p50_us\":%.1f,\"cpu_us_per_round_trip\":%.1f},"
           "\"two_cpus\":{\"p50_us\":%.1f,\"cpu_us_per_round_trip\":%.1f}}\n",
           rounds, same_p50, same_cpu, two_p50, two_cpu);
    free(rtt);
    return 0;
}
