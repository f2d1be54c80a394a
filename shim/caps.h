/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

/* Keep only CAP_SYS_PTRACE (ptrace, pidfd_getfd, process_vm_*, /proc of other users, uffd
 * fork events), plus CAP_SYS_NICE when remote process_madvise is used. 0 or -errno. */
int caps_drop(bool keep_nice);
