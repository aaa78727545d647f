/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Debian's libh2o-dev ships <h2o/http2_internal.h> but not the klib header it includes.
 * h2o-private.c needs the layout of h2o_http2_conn_t and, to find the stream a header block
 * was decoded into, the one look-up h2o_http2_conn_get_stream() makes: this stands in for
 * klib's khash.h of libh2o 2.2.5 (deps/klib, klib 0.2.8) with exactly that, read only: the
 * table's layout, the hash of an int64 key and open addressing with quadratic probing over
 * two flag bits a bucket (2: empty, 1: deleted). Nothing here inserts or frees.
 */

#include <stdint.h>

typedef uint32_t khint_t;
typedef khint_t khiter_t;

#define khash_t(name) kh_##name##_t
#define KHASH_MAP_INIT_INT64(name, khval_t)                                                                           \
    typedef struct kh_##name##_s {                                                                                     \
        khint_t n_buckets, size, n_occupied, upper_bound;                                                              \
        uint32_t *flags;                                                                                               \
        uint64_t *keys;                                                                                                \
        khval_t *vals;                                                                                                 \
    } kh_##name##_t;                                                                                                   \
    static inline khint_t sqdiff_kh_get_##name(const kh_##name##_t *h, uint64_t key) {                                \
        khint_t mask, i, last, step = 0;                                                                               \
        if (!h || !h->n_buckets)                                                                                       \
            return 0;                                                                                                  \
        mask = h->n_buckets - 1;                                                                                       \
        i = (khint_t)((key >> 33) ^ key ^ (key << 11)) & mask;                                                         \
        last = i;                                                                                                      \
        while (!SQDIFF_KH_ISEMPTY(h->flags, i) && (SQDIFF_KH_ISDEL(h->flags, i) || h->keys[i] != key)) {              \
            i = (i + (++step)) & mask;                                                                                 \
            if (i == last)                                                                                             \
                return h->n_buckets;                                                                                   \
        }                                                                                                              \
        return SQDIFF_KH_ISEITHER(h->flags, i) ? h->n_buckets : i;                                                     \
    }

#define SQDIFF_KH_FLAGS(flag, i) ((flag)[(i) >> 4] >> (((i)&0xfU) << 1))
#define SQDIFF_KH_ISEMPTY(flag, i) (SQDIFF_KH_FLAGS(flag, i) & 2)
#define SQDIFF_KH_ISDEL(flag, i) (SQDIFF_KH_FLAGS(flag, i) & 1)
#define SQDIFF_KH_ISEITHER(flag, i) (SQDIFF_KH_FLAGS(flag, i) & 3)

#define kh_get(name, h, k) sqdiff_kh_get_##name((h), (k))
#define kh_end(h) ((h) ? (h)->n_buckets : 0)
#define kh_val(h, x) ((h)->vals[x])
