/* SPDX-License-Identifier: MIT */
/*
 * Builds a filter from compiled-in rules (seccomp-lists.h, from the seccomp/ lists): each rule
 * allows a call, with at most one argument condition, or answers it with an errno without
 * running it; calls unknown on this architecture are skipped. Loaded with thread sync, so
 * that ZeroMQ's threads get it too.
 *
 * A rule answering with errno 0 (the call returns 0, and nothing happens) also overrides
 * systemd's filters. The units deny @resources (SystemCallFilter=~@resources) with EPERM
 * (SystemCallErrorNumber=EPERM), and libzmq aborts when its threads' sched_setscheduler()
 * fails (seccomp/common.list). The kernel runs every filter of a thread, the most recently
 * installed first, and keeps the result whose action comes first in KILL_PROCESS,
 * KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW, whatever its errno; of equal
 * actions the first seen stays (kernel/seccomp.c, seccomp_run_filters: a later result
 * replaces it only if strictly "<"). Ours are installed after systemd's (loaded before it
 * executes the daemon), so our ERRNO(0) is seen first and beats its ERRNO(EPERM); were
 * systemd's action a kill, the kill would win. test-sandbox.c checks it under a filter of
 * its own that answers EPERM, loaded first as systemd's is.
 */

#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

typedef struct SandboxRule {
    const char *name;
    int arg;              /* -1: any arguments */
    uint64_t mask, value; /* allowed when (argument & mask) == value */
    int error;            /* -1: run the call; else answer it with this errno (0: success) without running it */
} SandboxRule;

#include "seccomp-lists.h"

static int add_rule(scmp_filter_ctx ctx, const SandboxRule *rule) {
    int nr = seccomp_syscall_resolve_name(rule->name);
    uint32_t action = rule->error >= 0 ? SCMP_ACT_ERRNO((uint32_t)rule->error) : SCMP_ACT_ALLOW;
    struct scmp_arg_cmp cmp;

    if (nr == __NR_SCMP_ERROR)
        return 0;
    if (rule->arg < 0)
        return seccomp_rule_add(ctx, action, nr, 0);
    if (rule->mask == UINT64_MAX)
        cmp = (struct scmp_arg_cmp){ .arg = (unsigned)rule->arg, .op = SCMP_CMP_EQ, .datum_a = rule->value };
    else
        cmp = (struct scmp_arg_cmp){
            .arg = (unsigned)rule->arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = rule->mask, .datum_b = rule->value
        };
    return seccomp_rule_add_array(ctx, action, nr, 1, &cmp);
}

static int add_rules(scmp_filter_ctx ctx, const SandboxRule *rules) {
    for (; rules->name; rules++) {
        int r = add_rule(ctx, rules);
        if (r < 0)
            return r;
    }
    return 0;
}

static const SandboxRule *rules_of(SandboxProfile profile, SandboxStage stage) {
    if (profile == SANDBOX_HTTPD)
        return stage == SANDBOX_SETUP ? seccomp_httpd_setup : seccomp_httpd;
    return stage == SANDBOX_SETUP ? seccomp_worker_setup : seccomp_worker;
}

int sandbox_apply(SandboxProfile profile, SandboxStage stage, bool inet) {
    const char *env = getenv("SQDIFF_SECCOMP");
    scmp_filter_ctx ctx;
    int r;

    if (env && strcmp(env, "0") == 0)
        return SANDBOX_DISABLED;

    ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return -ENOMEM;
    /* Every thread, or none: the load fails if one cannot take the filter. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (r >= 0)
        r = add_rules(ctx, rules_of(profile, stage));
    if (r >= 0 && inet)
        r = add_rules(ctx, seccomp_inet);
    if (r >= 0 && inet && stage == SANDBOX_SETUP)
        r = add_rules(ctx, seccomp_inet_setup);
    if (r >= 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    return r < 0 ? r : 0;
}

bool sandbox_endpoint_needs_inet(const char *endpoint) {
    return strncmp(endpoint, "ipc://", 6) != 0 && strncmp(endpoint, "inproc://", 9) != 0;
}

int sandbox_check_endpoint_owner(const char *endpoint) {
    struct stat st;

    if (strncmp(endpoint, "ipc://", 6) != 0)
        return 0;
    if (lstat(endpoint + 6, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
        return -EPERM;
    return 0;
}
