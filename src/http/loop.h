/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one place where the front end's event loops meet. h2o's evloop is the
 * process's loop; sd-event (timers, signals, the watchdog, the ZeroMQ fds)
 * runs inside it: sd-event's epoll fd is polled by h2o, and when it becomes
 * readable every ready sd-event source is dispatched.
 *
 * Rule: sd-event sources are only created or re-armed from sd-event callbacks
 * (or before loop_run()), because sd-event arms its timers while it runs.
 * loop_run() returns when sd_event_exit() was called, with its exit code.
 */

#include <h2o.h>
#include <stdbool.h>
#include "macro.h"
#include <systemd/sd-event.h>

typedef struct Loop Loop;

int loop_new(Loop **ret);
Loop *loop_free(Loop *l);
DEFINE_FREEP(Loop, loop_free)

h2o_evloop_t *loop_h2o(Loop *l);
sd_event *loop_event(Loop *l);

int loop_run(Loop *l);

/*
 * Calls fn after every pass of the loop, once the events one wait returned were
 * handled and before the next wait: where work a pass produced goes out in one go.
 * fn returns true when it handed h2o work of its own (answers): h2o finishes such
 * work only in a pass (its write completions wait in a list that does not shorten
 * its wait), so the next pass then polls without waiting.
 */
typedef bool (*loop_pass_fn)(void *userdata);
void loop_on_pass(Loop *l, loop_pass_fn fn, void *userdata);

/* At exit with client connections still open, h2o 2.2 cannot destroy its loop: keep it. */
void loop_keep_h2o(Loop *l);
