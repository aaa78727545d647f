/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filters really are enforced, in every thread: a call off a list kills the
 * whole process with SIGSYS, calls on it work, argument conditions hold (socket families,
 * clone flags, prctl options, openat flags), and the worker can neither bind, listen,
 * accept nor unlink. ZeroMQ's threads' sched_setscheduler() is answered 0 without running,
 * also under a filter loaded before ours that answers EPERM (systemd's ~@resources); the
 * rest of @resources still kills.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "sandbox.h"
#include "test-helpers.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1 /* the runtimes make calls of their own (sigaltstack, ...): see sandbox.h */
#else
#define SANITIZED 0
#endif

#define NOT_THERE "/tmp/sqdiff-sandbox-test-should-not-exist"

typedef struct Case {
    SandboxProfile profile;
    SandboxStage stage;
    bool inet;
} Case;

static const Case cases[] = {
    { SANDBOX_HTTPD, SANDBOX_SETUP, false },
    { SANDBOX_HTTPD, SANDBOX_RUNTIME, false },
    { SANDBOX_WORKER, SANDBOX_SETUP, false },
    { SANDBOX_WORKER, SANDBOX_RUNTIME, false },
};

/* Runs fn in a child under the case's filter; returns the raw wait status. */
static int in_sandbox(const Case *c, void (*fn)(void)) {
    pid_t pid = fork();
    int status;

    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (sandbox_apply(c->profile, c->stage, c->inet) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

static bool exited_0(int st) {
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "status %#x: %s\n", st, WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exit");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool killed_by_sigsys(int st) {
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
        fprintf(stderr, "status %#x: not SIGSYS\n", st);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static void allowed(void) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    void *big = malloc(8 << 20);

    ASSERT_TRUE(getpid() > 0);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    ASSERT_TRUE(big);
    free(big);
    ASSERT_TRUE(prctl(PR_SET_NAME, "sandboxed") == 0);
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(fd >= 0);
    close(fd);
}

static void forbidden_mkdir(void) {
    syscall(SYS_mkdirat, AT_FDCWD, NOT_THERE, 0700);
}

static void forbidden_exec(void) {
    char *argv[] = { "/bin/true", NULL };
    execv(argv[0], argv);
}

static void forbidden_ptrace(void) {
    syscall(SYS_ptrace, 0, 0, 0, 0);
}

static void forbidden_fork(void) {
    syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* what fork() is: no CLONE_THREAD */
}

static void forbidden_ioctl(void) {
    int n;
    ioctl(0, FIONREAD, &n);
}

static void forbidden_prctl(void) {
    prctl(PR_SET_DUMPABLE, 1);
}

static void forbidden_open_for_writing(void) {
    open("/proc/self/comm", O_WRONLY | O_CLOEXEC);
}

static void forbidden_setpriority(void) {
    setpriority(PRIO_PROCESS, 0, 1);
}

static void forbidden_setaffinity(void) {
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static void forbidden_realtime(void) {
    struct sched_param p = { .sched_priority = 1 };
    sched_setscheduler(0, SCHED_FIFO, &p);
}

/* What libzmq's threads do as they start: set their own policy back, and abort if that fails. */
static void *reapply_own_policy(void *p) {
    struct sched_param param;
    int policy;

    ASSERT_EQ(pthread_getschedparam(pthread_self(), &policy, &param), 0);
    ASSERT_EQ(pthread_setschedparam(pthread_self(), policy, &param), 0);
    return p;
}

/* sched_setscheduler() returns 0 and changes nothing: the policy stays what it was. */
static void sched_setscheduler_skipped(void) {
    struct sched_param p = { .sched_priority = 0 };
    int before = sched_getscheduler(0);

    ASSERT_GE(before, 0);
    ASSERT_EQ(sched_setscheduler(0, before == SCHED_BATCH ? SCHED_OTHER : SCHED_BATCH, &p), 0);
    ASSERT_EQ(sched_getscheduler(0), before);
    ASSERT_TRUE(reapply_own_policy(NULL) == NULL);
}

/* Under a filter that answers @resources with EPERM, as systemd's does for ~@resources, loaded
 * first as systemd loads its own: our errno 0 wins, for the threads started under the set-up
 * filter (ZeroMQ's) and after the runtime one. */
static void sched_setscheduler_skipped_under_systemds_eperm(void) {
    pid_t pid = fork();
    int st;

    ASSERT_GE(pid, 0);
    if (pid == 0) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        struct sched_param p = { .sched_priority = 0 };
        pthread_t t;

        ASSERT_TRUE(ctx);
        ASSERT_EQ(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setscheduler), 0), 0);
        ASSERT_EQ(seccomp_load(ctx), 0);
        seccomp_release(ctx);
        errno = 0;
        ASSERT_EQ(sched_setscheduler(0, sched_getscheduler(0), &p), -1);
        ASSERT_EQ(errno, EPERM);
        if (sandbox_apply(SANDBOX_WORKER, SANDBOX_SETUP, false) < 0)
            _exit(99);
        ASSERT_EQ(pthread_create(&t, NULL, reapply_own_policy, NULL), 0);
        ASSERT_EQ(pthread_join(t, NULL), 0);
        if (sandbox_apply(SANDBOX_WORKER, SANDBOX_RUNTIME, false) < 0)
            _exit(99);
        sched_setscheduler_skipped();
        _exit(0);
    }
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(exited_0(st));
}

/* A page made writable again (what malloc does), then executable (what no running daemon does). */
static void *page(void) {
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    ASSERT_TRUE(p != MAP_FAILED);
    ASSERT_EQ(mprotect(p, 4096, PROT_READ | PROT_WRITE), 0);
    return p;
}

static void writable_page(void) {
    munmap(page(), 4096);
}

static void executable_page(void) {
    void *p = page();

    mprotect(p, 4096, PROT_READ | PROT_EXEC);
    munmap(p, 4096);
}

static void forbidden_inet_socket(void) {
    socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static void inet_socket(void) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_TRUE(fd >= 0);
    close(fd);
}

static void bind_unix(void) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "\0sqdiff-sandbox-test" };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ASSERT_TRUE(fd >= 0);
    ASSERT_TRUE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ASSERT_TRUE(listen(fd, 1) == 0);
    close(fd);
}

static void forbidden_accept(void) {
    accept4(-1, NULL, NULL, 0);
}

static void forbidden_unlink(void) {
    unlink(NOT_THERE);
}

static void *idle_thread(void *p) {
    return p;
}

static void thread_creation(void) {
    pthread_t t;
    ASSERT_TRUE(pthread_create(&t, NULL, idle_thread, NULL) == 0);
    ASSERT_TRUE(pthread_join(t, NULL) == 0);
}

/* --- A thread that exists before the filter, as ZeroMQ's do --------------------------- */

static int go[2];
static bool thread_misbehaves;

/* Whether /proc/thread-self/status has the line. Raw open and read: stdio would fstat. */
static bool own_status_has(const char *line) {
    char buf[4096];
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    ASSERT_TRUE(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ASSERT_TRUE(n > 0);
    buf[n] = '\0';
    return strstr(buf, line) != NULL;
}

static void *early_thread(void *p) {
    char c;

    ASSERT_TRUE(read(go[0], &c, 1) == 1); /* the filter is loaded by now */
    ASSERT_TRUE(own_status_has("\nSeccomp:\t2\n"));
    ASSERT_TRUE(own_status_has("\nNoNewPrivs:\t1\n"));
    if (thread_misbehaves)
        forbidden_mkdir();
    return p;
}

static void thread_started_before_the_filter(bool misbehave) {
    pid_t pid;
    int st;

    thread_misbehaves = misbehave;
    ASSERT_TRUE(pipe2(go, O_CLOEXEC) == 0);
    pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        pthread_t t;

        ASSERT_TRUE(pthread_create(&t, NULL, early_thread, NULL) == 0);
        if (sandbox_apply(SANDBOX_WORKER, SANDBOX_RUNTIME, false) < 0)
            _exit(99);
        ASSERT_TRUE(write(go[1], "x", 1) == 1);
        pthread_join(t, NULL);
        _exit(0);
    }
    close(go[0]);
    close(go[1]);
    ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
    ASSERT_TRUE(misbehave ? killed_by_sigsys(st) : exited_0(st));
}

int main(void) {
    void (*bad[])(void) = { forbidden_mkdir,       forbidden_exec,    forbidden_ptrace,      forbidden_fork,
                            forbidden_ioctl,       forbidden_prctl,   forbidden_inet_socket, forbidden_setpriority,
                            forbidden_setaffinity, forbidden_realtime };

    if (SANITIZED) {
        fprintf(stderr, "sanitized build: the daemons run it with SQDIFF_SECCOMP=0, skipping\n");
        return 77; /* meson's "skipped" */
    }
    unsetenv("SQDIFF_SECCOMP");
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const Case *c = &cases[i];
        bool worker = c->profile == SANDBOX_WORKER, setup = c->stage == SANDBOX_SETUP;

        ASSERT_TRUE(exited_0(in_sandbox(c, allowed)));
        ASSERT_TRUE(exited_0(in_sandbox(c, sched_setscheduler_skipped)));
        for (size_t j = 0; j < ELEMENTSOF(bad); j++)
            ASSERT_TRUE(killed_by_sigsys(in_sandbox(c, bad[j])));
        /* Threads only while setting up (ZeroMQ's); no process, ever. */
        ASSERT_TRUE(setup ? exited_0(in_sandbox(c, thread_creation))
                          : killed_by_sigsys(in_sandbox(c, thread_creation)));
        /* The worker never binds, listens, accepts or unlinks; the front end binds only in set-up. */
        ASSERT_TRUE(!worker && setup ? exited_0(in_sandbox(c, bind_unix)) : killed_by_sigsys(in_sandbox(c, bind_unix)));
        ASSERT_TRUE(worker ? killed_by_sigsys(in_sandbox(c, forbidden_accept)) : true);
        ASSERT_TRUE(worker ? killed_by_sigsys(in_sandbox(c, forbidden_unlink)) : true);
        /* Memory may be made writable, never executable once running (the loader may in set-up). */
        ASSERT_TRUE(exited_0(in_sandbox(c, writable_page)));
        ASSERT_TRUE(setup ? exited_0(in_sandbox(c, executable_page))
                          : killed_by_sigsys(in_sandbox(c, executable_page)));
        /* Nothing opens an existing file for writing. */
        ASSERT_TRUE(killed_by_sigsys(in_sandbox(c, forbidden_open_for_writing)));
        /* Network sockets only for tcp:// endpoints. */
        ASSERT_TRUE(exited_0(in_sandbox(&(Case){ c->profile, c->stage, true }, inet_socket)));
    }

    sched_setscheduler_skipped_under_systemds_eperm();
    thread_started_before_the_filter(false);
    thread_started_before_the_filter(true);
    ASSERT_TRUE(access(NOT_THERE, F_OK) != 0);
    return 0;
}
