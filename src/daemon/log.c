/* SPDX-License-Identifier: MIT */
/* Journal or stderr output; the choice is made once at setup. */

#define SD_JOURNAL_SUPPRESS_LOCATION
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "time-util.h"

static const char *log_ident = "sqdiff";
static bool journal;
static int max_level = LOG_INFO;

bool log_to_journal(void) {
    return journal;
}

void log_set_max_level(int level) {
    max_level = level;
}

void log_setup(const char *ident) {
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    log_ident = ident;
    /* systemd connects stderr to the journal and says so: only then is stderr a journal stream. */
    journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
              (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int log_event(int priority, const LogFields *f, const char *format, ...) {
    int saved = errno, err = f->error < 0 ? -f->error : f->error;
    char message[1024];
    va_list ap;

    if (priority > max_level)
        return -err;

    errno = err; /* for %m */
    va_start(ap, format);
    vsnprintf(message, sizeof(message), format, ap);
    va_end(ap);

    if (!journal) {
        static const char *const level[] = { "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug" };
        fprintf(stderr, "%s: %s: %s\n", log_ident, level[priority & 7], message);
        errno = saved;
        return -err;
    }

    char fields[17][320]; /* one per FIELD() below, at most */
    struct iovec iov[18];
    size_t n = 0, k = 0;

#define FIELD(...)                                                                                                     \
    do {                                                                                                               \
        int _l = snprintf(fields[k], sizeof(fields[k]), __VA_ARGS__);                                                  \
        iov[n++] = (struct iovec){ fields[k], (size_t)_l < sizeof(fields[k]) ? (size_t)_l : sizeof(fields[k]) - 1 };   \
        k++;                                                                                                           \
    } while (0)

    char msgfield[sizeof(message) + 8];
    int ml = snprintf(msgfield, sizeof(msgfield), "MESSAGE=%s", message);
    iov[n++] = (struct iovec){ msgfield, (size_t)ml };
    FIELD("PRIORITY=%d", priority);
    FIELD("SYSLOG_IDENTIFIER=%s", log_ident);
    if (f->message_id)
        FIELD("MESSAGE_ID=%s", f->message_id);
    if (err)
        FIELD("SQDIFF_ERRNO=%d", err);
    if (f->request_id)
        FIELD("SQDIFF_REQUEST_ID=%" PRIu64, f->request_id);
    if (f->kind)
        FIELD("SQDIFF_KIND=%s", f->kind);
    if (f->reason)
        FIELD("SQDIFF_REASON=%s", f->reason);
    if (f->has_latency)
        FIELD("SQDIFF_LATENCY_USEC=%" PRId64, f->latency_usec);
    if (f->status)
        FIELD("SQDIFF_HTTP_STATUS=%d", f->status);
    if (f->peer)
        FIELD("SQDIFF_PEER=%s", f->peer);
    if (f->key)
        FIELD("SQDIFF_KEY=%s", f->key);
    if (f->method)
        FIELD("SQDIFF_METHOD=%s", f->method);
    if (f->target)
        FIELD("SQDIFF_TARGET=%s", f->target);
    if (f->protocol)
        FIELD("SQDIFF_PROTOCOL=%s", f->protocol);
    if (f->bytes)
        FIELD("SQDIFF_RESPONSE_BYTES=%s", f->bytes);
    if (f->user_agent)
        FIELD("SQDIFF_USER_AGENT=%s", f->user_agent);
#undef FIELD

    (void)sd_journal_sendv(iov, (int)n);
    errno = saved;
    return -err;
}

bool log_warning_ratelimited(RateLimit *rl, const LogFields *f, const char *format, ...) {
    int saved = errno;
    char message[1024];
    uint64_t suppressed;
    va_list ap;

    if (!ratelimit_allow(rl, now_usec(CLOCK_MONOTONIC), &suppressed))
        return false;
    errno = f->error < 0 ? -f->error : f->error; /* for %m */
    va_start(ap, format);
    vsnprintf(message, sizeof(message), format, ap);
    va_end(ap);
    errno = saved;
    (void)log_event(LOG_WARNING, f, "%s (%" PRIu64 " similar suppressed)", message, suppressed);
    return true;
}
