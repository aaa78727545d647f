/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging for both daemons. Under systemd (stderr is the journal stream named
 * by $JOURNAL_STREAM) entries go to journald with structured fields:
 * MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, MESSAGE_ID and our SQDIFF_* fields.
 * Run by hand, the same messages go to stderr as readable lines.
 *
 * Callers log once, where an error is handled; library-style modules never log.
 * log_event() returns -abs(error) when error is set, so that
 *     return log_event(LOG_ERR, &(LogFields){ .error = r }, "Failed to ...: %m");
 * both logs and propagates; "%m" renders that error. Noisy warnings go
 * through log_warning_ratelimited() and a RateLimit (ratelimit.h).
 */

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "macro.h"
#include "ratelimit.h"

/* MESSAGE_IDs, documented in units/sqdiff.catalog. */
#define SQ_MSG_HTTPD_STARTED "9effe4dda11c4953bb6dec6e2e8fc043"
#define SQ_MSG_HTTPD_READY "cd2a462d73ed48fa81a42e0be7aae2ba"
#define SQ_MSG_HTTPD_STOPPING "feda4ac086da48478c1913a437c15203"
#define SQ_MSG_WORKER_STARTED "c0c327c64b154867b56ac5c9b4788e18"
#define SQ_MSG_WORKER_READY "66326c1098234427886212f4cad4e053"
#define SQ_MSG_WORKER_STOPPING "e1a5cd7bf0814ac28e6c046101a4aa7e"
#define SQ_MSG_JOB_REJECTED "963003d6df064914b45a0dcbf1734a11"
#define SQ_MSG_REQUEST_TIMEOUT "202b93ee8a0b400197e2468906d88c67"
#define SQ_MSG_REPLY_DROPPED "1a796d5c42b94a298b30dc967a8dff31"
#define SQ_MSG_REQUEST_FAILED "c16e348e7bbf465688413a6ce19a1b6b"
#define SQ_MSG_REQUEST "dee058e1dcac464d9c52c0d8f52017e1"
#define SQ_MSG_ACCEPT_PAUSED "175323333368490eb232809e2acaaea4"
#define SQ_MSG_CONNECTION_CLOSED "d5ed8543a47945f2aab00b64a6ec9ddf"
#define SQ_MSG_PEER_REJECTED "5ced224ecc1149bc9486c1419093a2a0"
#define SQ_MSG_REPORT_REFUSED "fe078279e8664b13aeccf1129534f98d"
#define SQ_MSG_CONFIG_REFUSED "685a7cef485b4cc68f4927d1d38036b9"
#define SQ_MSG_WORKER_CONNECTED "2230b3e75e1d415c8c664078498bf3e5"
#define SQ_MSG_WORKER_GONE "83d7636794cb4686acabbf72e81d09f1"
#define SQ_MSG_RELOADED "65d5e103030c4486bedc090ec8eafbb3"
#define SQ_MSG_SANDBOX_OFF "b9e3a69917d24ca4bf3794fcc87ee164"
#define SQ_MSG_MEMORY_BUDGET "8fe828d2fd1d4d378217e83bfffe15d5"

typedef struct LogFields {
    const char *message_id; /* one of SQ_MSG_*, or NULL */
    int error;              /* errno (either sign) for SQDIFF_ERRNO= and %m; 0 for none */
    uint64_t request_id;    /* SQDIFF_REQUEST_ID=, 0 for none */
    const char *kind;       /* SQDIFF_KIND= ("sum", "square"), or NULL */
    const char *reason;     /* SQDIFF_REASON=, free text (quoted by the caller if from a peer) */
    int64_t latency_usec;   /* SQDIFF_LATENCY_USEC=, only when has_latency */
    bool has_latency;
    int status;       /* SQDIFF_HTTP_STATUS=, 0 for none */
    const char *peer; /* SQDIFF_PEER=, a peer's address (quoted by the caller), or NULL */
    const char *key;  /* SQDIFF_KEY=, a worker's public key (Z85), or NULL */
    /* The access log's (each NULL for none): SQDIFF_METHOD=, SQDIFF_TARGET=, SQDIFF_PROTOCOL=,
     * SQDIFF_RESPONSE_BYTES=, SQDIFF_USER_AGENT=; the client is .peer. Quoted by the caller. */
    const char *method, *target, *protocol, *bytes, *user_agent;
} LogFields;

/* Chooses journal or stderr output; ident is the program name in entries. */
void log_setup(const char *ident);
void log_set_max_level(int level);
bool log_to_journal(void);

int log_event(int priority, const LogFields *f, const char *format, ...) _printf_(3, 4);

#define log_info(...) log_event(LOG_INFO, &(LogFields){ 0 }, __VA_ARGS__)
#define log_warning(...) log_event(LOG_WARNING, &(LogFields){ 0 }, __VA_ARGS__)
#define log_error_errno(r, ...) log_event(LOG_ERR, &(LogFields){ .error = (r) }, __VA_ARGS__)

/*
 * For events a peer can cause at will: a warning, if rl allows one now, ending in
 * " (N similar suppressed)". Returns whether it was logged.
 */
bool log_warning_ratelimited(RateLimit *rl, const LogFields *f, const char *format, ...) _printf_(3, 4);
