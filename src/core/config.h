/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Settings of both daemons: defaults, the INI file (/etc/sqdiff/sqdiff.conf,
 * parsed with libinih) and command-line overrides (--KEY=VALUE for every key).
 * Pure: the caller reads the file; this module only parses text.
 *
 * Every key lives in one section ([global], [httpd] or [worker]) and has one
 * name across all of them, so `--max-pending=5` and `[httpd] max-pending = 5`
 * are the same setting. Bad values are refused with a reason; file errors
 * carry "FILE:LINE: ".
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/sqdiff/sqdiff.conf"
#define CONFIG_DEFAULT_RUNTIME_DIR "/run/sqdiff"
#define CONFIG_ERROR_MAX 512
/* Descriptors kept back from client connections: listeners, epoll, timers, the journal,
 * ZeroMQ's own; and in workers mode CONFIG_FD_WORKERS more: a connection per worker the
 * peer tables hold (2 x PEERS_MAX) and 256 whose handshake is under way (2 s at most each). */
#define CONFIG_FD_HEADROOM 64
#define CONFIG_FD_WORKERS 512
/*
 * The memory budget (sqdiff.conf(5)): under a cgroup memory limit L (memory.high, else
 * memory.max), max-held-bytes + max-connections x config_conn_bytes() + CONFIG_BASE_BYTES <= L.
 * What an open connection costs beside what it holds for requests (measured: 1.6 KiB for
 * HTTP/1.1, 2.2 KiB for HTTP/2), and the process itself (measured: 10 MiB resident).
 */
#define CONFIG_CONN_BYTES UINT64_C(4096)
/* An HTTPS connection costs more: OpenSSL's state of the connection and the ciphertext read
 * (measured: 24.7 KiB for HTTP/1.1 after a request, 16.9 KiB for HTTP/2, buffers given back
 * while idle). With tls-certificate set, every connection is counted at this. */
#define CONFIG_TLS_CONN_BYTES UINT64_C(32768)
#define CONFIG_BASE_BYTES (UINT64_C(48) << 20)

typedef enum SqMode {
    SQ_MODE_WORKERS,
    SQ_MODE_LOCAL,
} SqMode;

/* The jobs endpoints of each kind: a list of ZeroMQ endpoints, separated by spaces. */
typedef enum ConfigEndpoint {
    ENDPOINT_JOBS_SUM,
    ENDPOINT_JOBS_SQUARE,
    _ENDPOINT_MAX,
} ConfigEndpoint;

/* The longest single endpoint, and the most endpoints in one list. */
#define CONFIG_ENDPOINT_MAX 256
#define CONFIG_ENDPOINTS_MAX 16

typedef struct Config {
    /* [global] */
    char *endpoint[_ENDPOINT_MAX]; /* NULL until config_finish() derives them from runtime_dir */
    uint64_t max_numbers;
    bool log_requests;
    char *curve_secret_key;        /* file; relative: in $CREDENTIALS_DIRECTORY. NULL: no CURVE */
    char *curve_server_public_key; /* workers: the front ends' public key file */
    bool allow_insecure_tcp;
    /* [httpd] */
    SqMode mode;
    uint64_t request_timeout_usec;
    uint64_t reaper_interval_usec;
    uint64_t idle_timeout_usec;
    uint64_t max_pending;
    uint64_t max_body_size;
    uint64_t max_connections; /* 0: from the descriptor limit, see config_max_connections() */
    uint64_t max_queued_bytes;
    uint64_t max_held_bytes;
    char *curve_allowed_keys; /* directory of the workers' public key files */
    char *tls_certificate;    /* HTTPS: PEM chain; relative: in $CREDENTIALS_DIRECTORY. NULL: none */
    char *tls_key;            /* HTTPS: its key, likewise */
    /* not in the file: --runtime-dir, else $RUNTIME_DIRECTORY, else CONFIG_DEFAULT_RUNTIME_DIR */
    char *runtime_dir;
    /* not in the file: the descriptor limit the daemon runs with (0: unknown) */
    uint64_t nofile_limit;
    /* not in the file: the memory limit of the daemon's cgroup (0: none) */
    uint64_t memory_limit;
} Config;

void config_init(Config *c);
void config_done(Config *c);

/* Sets key `name` (no section) from text; -EINVAL/-ERANGE/-ENOENT with a reason in err. */
int config_set(Config *c, const char *name, const char *value, char *err, size_t errlen);

/* Parses INI text; errors are reported as "FILENAME:LINE: reason". */
int config_parse_text(Config *c, const char *text, const char *filename, char *err, size_t errlen);

/* Resolves the runtime directory (env_runtime_dir may be NULL) and the endpoints; checks cross-key rules. */
int config_finish(Config *c, const char *env_runtime_dir, char *err, size_t errlen);

/*
 * Refuses endpoints other than ipc:// and inproc:// without CURVE keys, unless
 * allow-insecure-tcp: a worker needs its secret key and the front ends' public key, a front
 * end its secret key. Checks every endpoint list's syntax too.
 */
int config_check_transport(const Config *c, bool worker, char *err, size_t errlen);

/*
 * The next endpoint of a list: copies it into buf (CONFIG_ENDPOINT_MAX bytes) and moves
 * *cursor past it. False at the end of the list.
 */
bool config_endpoint_next(const char **cursor, char *buf);

/* max-connections in effect under a descriptor limit of nofile: the setting, or nofile less the
 * headroom (CONFIG_FD_WORKERS more in workers mode), and no more than c->memory_limit has room
 * for beside max-held-bytes (the memory budget above; at least 16). */
uint64_t config_max_connections(const Config *c, uint64_t nofile);

/* What an open connection counts in the memory budget: CONFIG_TLS_CONN_BYTES with HTTPS on. */
uint64_t config_conn_bytes(const Config *c);

/* What the memory budget asks for with max_conns connections: compare with c->memory_limit. */
uint64_t config_memory_needed(const Config *c, uint64_t max_conns);

/* The settings' names, for the command line. */
size_t config_n_keys(void);
const char *config_key_name(size_t i);

/* Describes every key with its section and default, for --help. */
/*
 * For a reload (SIGHUP): whether key i (0 .. config_n_keys() - 1) takes effect without a
 * restart; whether it differs between two finished configurations; and copying its value.
 */
bool config_key_live(size_t i);
bool config_key_differs(const Config *a, const Config *b, size_t i);
int config_key_copy(Config *dst, const Config *src, size_t i); /* -ENOMEM */

void config_print_keys(FILE *f);

const char *sq_mode_to_string(SqMode m);
