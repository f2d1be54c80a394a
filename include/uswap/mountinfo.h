/* SPDX-License-Identifier: Apache-2.0 */
/* Parser for the lines of /proc/PID/mountinfo (format in proc(5)). */
#pragma once

#include <stdint.h>

struct uswap_mount {
	uint32_t mount_id;
	uint32_t parent_id;
	uint32_t major, minor; /* st_dev of the filesystem */
	char *root; /* the directory of the filesystem mounted here, e.g. a cgroup's path */
	char *mountpoint;
	char *options; /* per-mount options, as printed */
	char *fstype; /* "cgroup", "cgroup2", "ext4", "fuse.sshfs" ... */
	char *source; /* may be "" */
	char *superopts; /* per-superblock options, as printed: "rw,memory" */
};

/*
 * Parse one line (without its newline) in place: the strings of *ret point into line, and
 * root, mountpoint and source are unescaped (the kernel prints ' ', '\t', '\n' and '\\' in
 * them as \ooo). line is modified either way. 0, or -EBADMSG with *ret untouched.
 */
int uswap_mountinfo_parse_line(char *line, struct uswap_mount *ret);
