/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemons' confinement: their seccomp allow-lists (seccomp/NAME.list, compiled in),
 * and the front end's check of what it finds where it binds.
 *
 * Each daemon loads two filters, each synced to every thread it has (libseccomp's
 * SCMP_FLTATR_CTL_TSYNC) and inherited by any thread started later; anything off a list
 * kills the whole process (SIGSYS):
 *   - SANDBOX_SETUP, before set-up creates the ZeroMQ sockets (and so ZeroMQ's threads):
 *     the runtime list and what set-up needs (threads, binding or connecting, loading the
 *     second filter). No byte from a peer is ever read without a filter.
 *   - SANDBOX_RUNTIME, once set-up is done and before the event loop runs: the runtime
 *     list alone. Filters stack: from then on a call must pass both.
 * System call arguments are checked where it is cheap (socket families, clone flags,
 * prctl options, openat flags). AF_INET and AF_INET6 sockets (and, while setting up, what
 * binding a tcp:// endpoint needs) are allowed only with inet: an endpoint that is not
 * ipc://. SQDIFF_SECCOMP=0 in the environment skips loading
 * (for sanitizer and debugging builds, whose runtimes make calls of their own). The
 * units deny @resources, and only our filters let ZeroMQ's threads' sched_setscheduler()
 * through (answered 0, not run): under them, SQDIFF_SECCOMP=0 makes libzmq abort at start
 * unless a drop-in adds "SystemCallFilter=@resources" back.
 */

#include <stdbool.h>

typedef enum SandboxProfile {
    SANDBOX_HTTPD,
    SANDBOX_WORKER,
} SandboxProfile;

typedef enum SandboxStage {
    SANDBOX_SETUP,
    SANDBOX_RUNTIME,
} SandboxStage;

/* Loads the filter of profile and stage: 0; SANDBOX_DISABLED when SQDIFF_SECCOMP=0 turned the
 * filters off (the caller says so in the log); negative errno on failure (nothing loaded then). */
#define SANDBOX_DISABLED 1
int sandbox_apply(SandboxProfile profile, SandboxStage stage, bool inet);

/* Whether a ZeroMQ endpoint needs network sockets: any but ipc:// and inproc://. */
bool sandbox_endpoint_needs_inet(const char *endpoint);

/*
 * Before the front end binds an ipc:// endpoint: 0 if nothing is at its path, or a socket
 * this process's user owns (left by an earlier run); -EPERM for anything else (someone
 * else's socket, a file, a link), which the front end must not take over or delete.
 * Endpoints of other transports: 0.
 */
int sandbox_check_endpoint_owner(const char *endpoint);
