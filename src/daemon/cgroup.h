/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the process's cgroup (v2) allows it: the memory limit that the front end's budgets
 * must fit under (config.h, the memory budget). Read from /proc/self/cgroup and /sys/fs/cgroup.
 */

#include <stdint.h>

/*
 * The lowest memory.high, else memory.max, of the process's cgroup and its ancestors, into
 * *ret (0: no limit is set, or there is no cgroup v2 to read). 0, or a negative errno when
 * /proc/self/cgroup cannot be read.
 */
int cgroup_memory_limit(uint64_t *ret);
