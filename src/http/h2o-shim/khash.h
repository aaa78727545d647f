/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Debian's libh2o-dev ships <h2o/http2_internal.h> but not the klib header it
 * includes. h2o-private.c needs only the layout of h2o_http2_conn_t, in which
 * the stream table is a pointer, so this stands in with opaque types. The one
 * inline function of that header that looks streams up is never called; its
 * calls resolve to a function that does not exist, so a use fails to link.
 */

#include <stdint.h>

typedef uint32_t khint_t;
typedef khint_t khiter_t;

#define khash_t(name) kh_##name##_t
#define KHASH_MAP_INIT_INT64(name, type) typedef struct kh_##name##_s kh_##name##_t;

khint_t sqdiff_khash_is_not_available(const void *h, ...);
#define kh_get(name, h, k) sqdiff_khash_is_not_available((h), (k))
#define kh_end(h) sqdiff_khash_is_not_available((h))
#define kh_val(h, x) ((void)sqdiff_khash_is_not_available((h), (x)), (void *)0)
