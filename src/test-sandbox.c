/* SPDX-License-Identifier: MIT */
/* The seccomp filter really is enforced: a call off the list kills the process, calls on it work. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "test-helpers.h"

/* Runs fn in a child under the profile's filter; returns the raw wait status. */
static int in_sandbox(SandboxProfile p, void (*fn)(void)) {
    pid_t pid = fork();
    int status;

    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (sandbox_apply(p) < 0)
            _exit(99);
        fn();
        _exit(0);
    }
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

static void allowed(void) {
    char buf[16];
    int fds[2];

    ASSERT_GT(getpid(), 0);
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    ASSERT_EQ(read(fds[0], buf, 1), 1);
}

static void forbidden_mkdir(void) {
    syscall(SYS_mkdirat, AT_FDCWD, "/tmp/sqdiff-sandbox-test-should-not-exist", 0700);
}

static void forbidden_exec(void) {
    char *argv[] = { "/bin/true", NULL };
    execv(argv[0], argv);
}

static void forbidden_ptrace(void) {
    syscall(SYS_ptrace, 0, 0, 0, 0);
}

TEST(sandbox) {
    unsetenv("SQDIFF_SECCOMP");
    for (int p = SANDBOX_HTTPD; p <= SANDBOX_WORKER; p++) {
        int st = in_sandbox(p, allowed);
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ(WEXITSTATUS(st), 0);

        void (*bad[])(void) = { forbidden_mkdir, forbidden_exec, forbidden_ptrace };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            st = in_sandbox(p, bad[i]);
            ASSERT_TRUE(WIFSIGNALED(st));
            ASSERT_EQ(WTERMSIG(st), SIGSYS);
        }
    }
    ASSERT_NE(access("/tmp/sqdiff-sandbox-test-should-not-exist", F_OK), 0);
}

TEST_MAIN()
