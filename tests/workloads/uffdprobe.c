// SPDX-License-Identifier: Apache-2.0
/*
 * uffdprobe: can this kernel give the pager what it needs? The integration tests skip
 * (exit 77) only when the kernel lacks it, and fail (exit 1) when it is there but refused,
 * so a broken setup is never mistaken for a missing feature.
 *
 * Tries /dev/userfaultfd (USERFAULTFD_IOC_NEW, as the shim does), then the syscall, and
 * asks for UFFD_FEATURE_MOVE | EVENT_FORK | EVENT_REMOVE with UFFDIO_API. ENOENT/ENOSYS
 * mean absent; an API call that rejects the features is absent too (it says which).
 * With the argument "wp" it also asks for anonymous write-protect faults
 * (UFFD_FEATURE_PAGEFAULT_FLAG_WP), which the pager needs to keep clean pages' store copies.
 * Exit 0 usable, 77 absent (one "SKIP: ..." line), 1 forbidden or broken ("FAIL: ...").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* newer than Debian 12's uapi headers; the kernel ABI values */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static unsigned long long want = UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_FORK |
				 UFFD_FEATURE_EVENT_REMOVE;

static int new_uffd(const char **ret_how)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	int dev_err = errno, fd;

	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		dev_err = errno;
		close(dev);
		if (fd >= 0) {
			*ret_how = "/dev/userfaultfd";
			return fd;
		}
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		*ret_how = "userfaultfd(2)";
		return fd;
	}
	if (errno == ENOSYS && (dev_err == ENOENT || dev_err == ENODEV || dev_err == ENOTTY)) {
		printf("SKIP: userfaultfd unavailable (no /dev/userfaultfd, no syscall)\n");
		return -77;
	}
	printf("FAIL: userfaultfd refused: /dev/userfaultfd: %s; userfaultfd(2): %s\n",
	       strerror(dev_err), strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	const char *how = NULL;
	unsigned long long missing;
	int fd;

	if (argc > 1 && !strcmp(argv[1], "wp")) {
		want |= UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	} else if (argc > 1) {
		fprintf(stderr, "usage: uffdprobe [wp]\n");
		return 2;
	}
	fd = new_uffd(&how);
	if (fd < 0)
		return -fd;
	/* ask for nothing first: the answer lists what the kernel has */
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		printf("FAIL: UFFDIO_API on %s: %s\n", how, strerror(errno));
		return 1;
	}
	close(fd);
	missing = want & ~api.features;
	if (missing) {
		printf("SKIP: userfaultfd unavailable: features %#llx missing (have %#llx)\n",
		       missing, (unsigned long long)api.features);
		return 77;
	}
	/* a uffd takes one UFFDIO_API: ask for the features on a fresh one */
	fd = new_uffd(&how);
	if (fd < 0)
		return -fd;
	api = (struct uffdio_api){ .api = UFFD_API, .features = want };
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		/* EVENT_FORK needs CAP_SYS_PTRACE: refused, not absent */
		printf("FAIL: UFFDIO_API(features %#llx) on %s: %s\n", want, how, strerror(errno));
		return 1;
	}
	close(fd);
	printf("userfaultfd usable via %s (features %#llx)\n", how,
	       (unsigned long long)api.features);
	return 0;
}
