/* SPDX-License-Identifier: MIT */
/* SharedBytes: an atomic count of owners beside the buffer. */

#include "shared-bytes.h"

#include <stdatomic.h>
#include <stdlib.h>

struct SharedBytes {
    atomic_uint owners;
    char *data;
};

SharedBytes *shared_bytes_new(char *data) {
    SharedBytes *b = malloc(sizeof(*b));

    if (!b)
        return NULL;
    atomic_init(&b->owners, 1);
    b->data = data;
    return b;
}

void shared_bytes_ref(SharedBytes *b) {
    atomic_fetch_add_explicit(&b->owners, 1, memory_order_relaxed);
}

void shared_bytes_unref(SharedBytes *b) {
    /* release: this owner's last use of the bytes comes before the free; acquire: the free
     * comes after every other owner's */
    if (b && atomic_fetch_sub_explicit(&b->owners, 1, memory_order_acq_rel) == 1) {
        free(b->data);
        free(b);
    }
}

unsigned shared_bytes_owners(SharedBytes *b) {
    return atomic_load_explicit(&b->owners, memory_order_relaxed);
}

void shared_bytes_free_fn(void *data, void *hint) {
    shared_bytes_unref(hint);
}
