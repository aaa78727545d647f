/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The seccomp allow-lists of the daemons, loaded with libseccomp once set-up
 * is done and before the first untrusted byte is read. Any other system call
 * kills the process. The lists are kept as data in seccomp/NAME.list and compiled
 * in at build time. SQDIFF_SECCOMP=0 in the environment skips loading (for
 * sanitizer and debugging builds, whose runtimes make calls of their own).
 */

typedef enum SandboxProfile {
    SANDBOX_HTTPD,
    SANDBOX_WORKER,
} SandboxProfile;

int sandbox_apply(SandboxProfile profile);
