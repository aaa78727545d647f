/* SPDX-License-Identifier: MIT */
/*
 * Settings are applied in order of precedence: defaults, then the file, then
 * the command line. --config names the file; the default file may be absent,
 * a named one may not.
 */

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "macro.h"
#include "wire.h"

/* Blocks this large get a mapping of their own, unmapped when freed (pin_mmap_threshold). */
#define CLI_MMAP_THRESHOLD (1024 * 1024)

enum { OPT_CHECK = 0x100, OPT_RUNTIME_DIR, OPT_VERSION, OPT_METRICS_LISTEN, OPT_LISTEN_TLS, OPT_SET };

static void help(CliProgram prog, FILE *f) {
    if (prog == CLI_HTTPD)
        fprintf(f, "Usage: sqdiff-httpd [OPTIONS]\n\n"
                   "HTTP front end of sqdiff: answers GET /?n=1&n=2 and POST / {\"numbers\":[1,2]} with\n"
                   "the sum of the squares, the square of the sum and their difference.\n"
                   "Listens on the sockets passed by systemd, or on --listen.\n\n"
                   "  -l --listen=ADDR:PORT    listen here when not socket-activated (repeatable;\n"
                   "                           IPv6 as [::1]:8080)\n"
                   "     --listen-tls=ADDR:PORT\n"
                   "                           listen for HTTPS here (repeatable; needs tls-certificate\n"
                   "                           and tls-key)\n"
                   "     --metrics-listen=ADDR:PORT\n"
                   "                           serve Prometheus metrics at /metrics here (repeatable;\n"
                   "                           keep it on loopback)\n");
    else
        fprintf(f, "Usage: sqdiff-worker --kind=sum|square [OPTIONS]\n\n"
                   "sqdiff worker: takes jobs from the front end over ZeroMQ and replies with\n"
                   "the sum of the squares (sum) or the square of the sum (square).\n\n"
                   "  -k --kind=sum|square     what this worker computes\n");
    fprintf(f, "  -c --config=FILE         configuration file (default " CONFIG_DEFAULT_PATH ")\n"
               "     --check               validate the configuration and exit\n"
               "     --runtime-dir=DIR     ZeroMQ IPC directory (default $RUNTIME_DIRECTORY,\n"
               "                           else " CONFIG_DEFAULT_RUNTIME_DIR ")\n"
               "  -h --help                show this help\n"
               "     --version             show the version\n\n"
               "Every setting of the configuration file can be overridden:\n");
    config_print_keys(f);
}

/*
 * The whole file, NUL-terminated. open() and read() only, no stdio: a reload reads it again
 * under the runtime seccomp filter, and stdio's fstat() is not in every daemon's list.
 */
static int read_file(const char *path, char **ret) {
    _cleanup_free_ char *buf = NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    size_t n = 0, cap = 0;

    if (fd < 0)
        return negative_errno();
    for (;;) {
        ssize_t k;

        if (cap - n < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (!b)
                return -ENOMEM;
            buf = b;
            cap += 65536;
        }
        k = read(fd, buf + n, cap - n - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return negative_errno();
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (memchr(buf, '\0', n))
        return -EBADMSG;
    buf[n] = '\0';
    *ret = TAKE_PTR(buf);
    return 0;
}

/* Keeps why the command line or the configuration is refused, for cli_main() to log; returns r. */
_printf_(3, 4) static int refuse(CliOptions *o, int r, const char *fmt, ...) {
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->error, sizeof(o->error), fmt, ap);
    va_end(ap);
    return r;
}

int cli_parse(CliProgram prog, int argc, char **argv, CliOptions *o) {
    static const struct option fixed[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, OPT_CHECK },
        { "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
        { "listen", required_argument, NULL, 'l' },
        { "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
        { "listen-tls", required_argument, NULL, OPT_LISTEN_TLS },
        { "kind", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
    };
    size_t n_fixed = ELEMENTSOF(fixed), n_keys = config_n_keys();
    _cleanup_free_ struct option *options = calloc(n_fixed + n_keys + 1, sizeof(struct option));
    const char *config_path = NULL, *runtime_dir = NULL;
    char err[CONFIG_ERROR_MAX];
    int c, idx, r, n_set = 0;
    _cleanup_free_ int *set_idx = calloc((size_t)argc + 1, sizeof(int));
    _cleanup_free_ char **set_val = calloc((size_t)argc + 1, sizeof(char *));

    *o = (CliOptions){ .kind = _WIRE_KIND_INVALID, .argc = argc, .argv = argv };
    optind = 0; /* getopt anew: a reload parses the command line a second time */
    config_init(&o->config);
    if (!options || !set_idx || !set_val)
        return -ENOMEM;
    /* Every setting is also an option: --KEY=VALUE. */
    memcpy(options, fixed, sizeof(fixed));
    for (size_t i = 0; i < n_keys; i++)
        options[n_fixed + i] = (struct option){ config_key_name(i), required_argument, NULL, OPT_SET };

    /* First pass: collect; settings are applied after the file is read. */
    while ((c = getopt_long(argc, argv, prog == CLI_HTTPD ? "c:l:h" : "c:k:h", options, &idx)) >= 0) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_CHECK:
            o->check = true;
            break;
        case OPT_RUNTIME_DIR:
            runtime_dir = optarg;
            break;
        case 'l':
        case OPT_LISTEN_TLS:
        case OPT_METRICS_LISTEN: {
            char ***list = c == 'l' ? &o->listen : c == OPT_LISTEN_TLS ? &o->listen_tls : &o->metrics_listen, **l;
            size_t *n = c == 'l' ? &o->n_listen : c == OPT_LISTEN_TLS ? &o->n_listen_tls : &o->n_metrics_listen;

            if (prog != CLI_HTTPD)
                goto unknown;
            l = realloc(*list, (*n + 1) * sizeof(char *));
            if (!l)
                return -ENOMEM;
            *list = l;
            l[(*n)++] = optarg;
            break;
        }
        case 'k':
            if (prog != CLI_WORKER)
                goto unknown;
            o->kind = wire_kind_from_string(optarg);
            if (o->kind < 0) {
                return refuse(o, -EINVAL, "--kind: \"%s\" is not a kind (sum or square)", optarg);
            }
            break;
        case 'h':
            help(prog, stdout);
            return 1;
        case OPT_VERSION:
            printf("%s %s\n", prog == CLI_HTTPD ? "sqdiff-httpd" : "sqdiff-worker", SQDIFF_VERSION);
            return 1;
        case OPT_SET:
            set_idx[n_set] = idx;
            set_val[n_set++] = optarg;
            break;
        default:
        unknown:
            return refuse(o, -EINVAL, "unknown option. Try '%s --help'.", argv[0]);
        }
    }
    if (optind < argc) {
        return refuse(o, -EINVAL, "Unexpected argument \"%s\". Try '%s --help'.", argv[optind], argv[0]);
    }
    if (prog == CLI_WORKER && o->kind < 0 && !o->check) { /* --check checks what both kinds read */
        return refuse(o, -EINVAL, "--kind=sum or --kind=square is required.");
    }

    {
        const char *path = config_path ? config_path : CONFIG_DEFAULT_PATH;
        _cleanup_free_ char *text = NULL;

        r = read_file(path, &text);
        if (r == -ENOENT && !config_path)
            r = 0; /* no file: defaults */
        else if (r < 0) {
            return refuse(o, r, "%s: %s", path, r == -EBADMSG ? "contains a NUL byte" : strerror(-r));
        } else {
            r = config_parse_text(&o->config, text, path, err, sizeof(err));
            if (r < 0)
                return refuse(o, r, "%s", err);
        }
    }

    for (int i = 0; i < n_set; i++) {
        r = config_set(&o->config, options[set_idx[i]].name, set_val[i], err, sizeof(err));
        if (r < 0)
            return refuse(o, r, "--%s", err);
    }
    if (runtime_dir) {
        o->config.runtime_dir = strdup(runtime_dir);
        if (!o->config.runtime_dir)
            return -ENOMEM;
    }
    r = config_finish(&o->config, getenv("RUNTIME_DIRECTORY"), err, sizeof(err));
    if (r >= 0 && (prog == CLI_WORKER || o->config.mode == SQ_MODE_WORKERS))
        r = config_check_transport(&o->config, prog == CLI_WORKER, err, sizeof(err));
    if (r < 0)
        return refuse(o, r, "%s", err);
    if (o->check) {
        o->config_path = config_path ? config_path : CONFIG_DEFAULT_PATH;
        return 1;
    }
    return 0;
}

void cli_done(CliOptions *o) {
    config_done(&o->config);
    free(o->listen);
    o->listen = NULL;
    free(o->metrics_listen);
    o->metrics_listen = NULL;
    free(o->listen_tls);
    o->listen_tls = NULL;
}

/*
 * glibc raises its mmap threshold to the size of the last big block freed and then keeps
 * such blocks in the heap, so both daemons held big requests' memory for good (measured):
 * the front end 45 MB on a live connection after a million-number request; a worker 20 MB
 * after two 20 MB jobs, since ZeroMQ's I/O thread allocates a message in an arena
 * malloc_trim() does not shrink. A fixed threshold maps and unmaps every big block.
 */
static void pin_mmap_threshold(void) {
    /* Not an invariant: glibc takes this value, but a sanitizer's allocator refuses mallopt(). */
    (void)mallopt(M_MMAP_THRESHOLD, CLI_MMAP_THRESHOLD);
}

int cli_main(CliProgram prog, const char *ident, int argc, char **argv, int (*run)(CliOptions *o),
             int (*check)(const CliOptions *o, char *err, size_t errlen)) {
    CliOptions o;
    sigset_t mask;
    int r;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP); /* reload.h: the loop takes these too */
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    pin_mmap_threshold();

    log_setup(ident);
    r = cli_parse(prog, argc, argv, &o);
    /* The program's own checks, with --check and before every start alike. */
    if ((r == 0 || (r == 1 && o.check)) && check) {
        r = check(&o, o.error, sizeof(o.error));
        if (r > 0 && o.check)
            fprintf(stderr, "%s\n", o.error); /* a note: what could not be checked here */
        r = r < 0 ? r : o.check;
    }
    if (r < 0 && o.error[0]) {
        log_event(LOG_ERR, &(LogFields){ .message_id = SQ_MSG_CONFIG_REFUSED, .error = r }, "Configuration refused: %s",
                  o.error);
        cli_done(&o);
        return CLI_EXIT_CONFIG; /* nothing has started: the units do not restart on it */
    }
    if (r == 1 && o.check)
        printf("%s: configuration OK (mode %s)\n", o.config_path, sq_mode_to_string(o.config.mode));
    if (r == 0)
        r = run(&o);
    cli_done(&o);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
