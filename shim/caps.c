/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "uswap/log.h"

int caps_drop(bool keep_nice)
{
	cap_value_t keep[2] = { CAP_SYS_PTRACE, CAP_SYS_NICE };
	int nkeep = keep_nice ? 2 : 1;
	cap_t caps = cap_init();
	int r = 0;

	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) < 0) {
		r = -errno;
		goto out;
	}
	if (cap_set_proc(caps) < 0) {
		/* Not root or already reduced: keep what we have. */
		r = -errno;
		goto out;
	}
	/* The shim holds other processes' memory: no core dumps, no ptrace of it by others. */
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
out:
	cap_free(caps);
	return r;
}
