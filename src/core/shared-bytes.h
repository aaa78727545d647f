/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A malloc()ed buffer with several owners, some in other threads: the front end's
 * big job and each ZeroMQ message that carries it without a copy (zmq_msg_init_data(),
 * whose free function ZeroMQ's I/O thread calls once the message is sent). The last
 * owner to let go frees the buffer. Pure: malloc() and atomics only.
 */

typedef struct SharedBytes SharedBytes;

/* Takes data (from malloc()) with one owner, the caller; NULL, data untouched, on ENOMEM. */
SharedBytes *shared_bytes_new(char *data);

/* One owner more. */
void shared_bytes_ref(SharedBytes *b);

/* One owner less: the last frees the buffer and b. NULL is nothing. */
void shared_bytes_unref(SharedBytes *b);

/* How many owners b has now (for tests: another thread may change it at any time). */
unsigned shared_bytes_owners(SharedBytes *b);

/* shared_bytes_unref(hint), as zmq_msg_init_data()'s free function: any thread may call it. */
void shared_bytes_free_fn(void *data, void *hint);
