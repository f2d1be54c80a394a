/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "keeper.h"
#include "pager.h"
#include "uswap/log.h"

enum {
	KMSG_HOLD = 1,
	KMSG_FORGET = 2
};

struct kmsg {
	uint32_t op;
	uint32_t pad;
	uint64_t serial;
};

struct held {
	uint64_t serial;
	int fd;
	bool claimed; /* a pager that took over uses it */
};

static pid_t kpid;
static char crash_point[32];
static long crash_left;
static int ksock = -1, psock = -1; /* the keeper's end, the pager's end */
static int ksfd = -1;
static struct held *held;
static size_t nheld, cap;

pid_t keeper_pid(void)
{
	return kpid;
}

static void send_msg(uint32_t op, uint64_t serial, int fd)
{
	static bool told;
	struct kmsg m = { .op = op, .serial = serial };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (psock < 0)
		return;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	do
		n = sendmsg(psock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && !told) {
		told = true;
		log_error_errno(-errno,
				"cannot hand a userfaultfd to the keeper (%m): a pager that takes "
				"over after this one dies cannot serve that process");
	}
}

void keeper_hold(uint64_t serial, int fd)
{
	send_msg(KMSG_HOLD, serial, fd);
}

void keeper_forget(uint64_t serial)
{
	send_msg(KMSG_FORGET, serial, -1);
}

void keeper_check(void)
{
	static bool told;
	struct pollfd pfd = { .fd = psock };

	if (psock < 0 || told || getpid() == kpid || poll(&pfd, 1, 0) <= 0 ||
	    !(pfd.revents & POLLHUP))
		return;
	told = true;
	log_error("the keeper (pid %d) is gone: if this pager dies now, nothing takes over and "
		  "its processes' evicted pages stay unreachable",
		  (int)kpid);
}

static struct held *find_held(uint64_t serial)
{
	for (size_t i = 0; i < nheld; i++)
		if (held[i].serial == serial)
			return &held[i];
	return NULL;
}

int keeper_fd(uint64_t serial)
{
	struct held *h = find_held(serial);

	if (!h)
		return -1;
	h->claimed = true;
	return h->fd;
}

void keeper_drop_unclaimed(void)
{
	for (size_t i = 0; i < nheld; i++)
		if (!held[i].claimed) {
			close(held[i].fd);
			keeper_forget(held[i].serial);
		}
	free(held);
	held = NULL;
	nheld = cap = 0;
}

/* The keeper: take every message the pager sent. */
static void take_msgs(void)
{
	for (;;) {
		struct kmsg m;
		struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *c;
		struct held *h;
		int fd = -1;
		ssize_t n = recvmsg(ksock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (mh.msg_flags & MSG_CTRUNC)
			log_error(
				"the keeper could not take a userfaultfd (out of file descriptors?): "
				"a pager that takes over cannot serve that process");
		if (n != sizeof(m)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		h = find_held(m.serial);
		if (m.op == KMSG_FORGET || fd < 0) {
			if (h) {
				close(h->fd);
				*h = held[--nheld];
			}
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (h) {
			close(h->fd);
			h->fd = fd;
			continue;
		}
		if (nheld == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct held *g = realloc(held, nc * sizeof(*g));

			if (!g) {
				log_error("out of memory: the keeper drops a userfaultfd copy");
				close(fd);
				continue;
			}
			held = g;
			cap = nc;
		}
		held[nheld++] = (struct held){ .serial = m.serial, .fd = fd };
	}
}

static pid_t start(keeper_body_fn body, void *arg, bool takeover)
{
	pid_t c = fork();

	if (c == 0) {
		close(ksock);
		ksock = -1;
		close(ksfd);
		ksfd = -1;
		if (!takeover) {
			free(held);
			held = NULL;
			nheld = cap = 0;
		}
		_exit(body(takeover, arg));
	}
	if (c < 0)
		log_error_errno(-errno, "cannot start a pager: %m");
	return c;
}

static uint64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static int status_code(int st)
{
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

int keeper_run(keeper_body_fn body, void *arg, const volatile pid_t *root_pid, int first_only_fd)
{
	int sv[2], code = 1, root_st = 0, st;
	bool have_root = false, done = false;
	uint64_t window = 0;
	unsigned quick = 0;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(-errno, "cannot start the keeper: %m"), 1;
	ksock = sv[0];
	psock = sv[1];
	ksfd = pager_signalfd();
	if (ksfd < 0)
		return log_error_errno(ksfd, "cannot start the keeper: %m"), 1;
	kpid = getpid();
	/* Run mode: the command's tree comes to us once no pager is its parent any more. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	child = start(body, arg, false);
	if (first_only_fd >= 0)
		close(first_only_fd);
	if (child < 0)
		return 1;
	/* What a pager that takes over needs, no more (the first one drops to the same). */
	caps_drop(true);
	while (!done) {
		struct pollfd pfd[2] = { { .fd = ksfd, .events = POLLIN },
					 { .fd = ksock, .events = POLLIN } };
		struct signalfd_siginfo si;
		pid_t pid;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		take_msgs();
		while (read(ksfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo != SIGCHLD && child > 0)
				kill(child, (int)si.ssi_signo);
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid != child) {
				if (*root_pid > 0 && pid == *root_pid) {
					have_root = true;
					root_st = st;
				}
				continue;
			}
			if (!WIFSIGNALED(st)) {
				code = WEXITSTATUS(st);
				done = true;
				continue;
			}
			/* Messages it sent before it died tell which fds to keep. */
			take_msgs();
			if (mono_s() - window > 10) {
				window = mono_s();
				quick = 0;
			}
			if (++quick > 3)
				sleep(quick > 6 ? 10 : 1u << (quick - 4));
			log_error(
				"the pager (pid %d) was killed by signal %d (%s): a new pager takes "
				"over",
				(int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
			child = start(body, arg, true);
			if (child < 0)
				done = true;
		}
	}
	/* The command may have ended just before the pager that took over. */
	for (pid_t pid; (pid = waitpid(-1, &st, WNOHANG)) > 0;)
		if (*root_pid > 0 && pid == *root_pid) {
			have_root = true;
			root_st = st;
		}
	return have_root ? status_code(root_st) : code;
}

void keeper_crash_setup(bool takeover)
{
	const char *v = getenv("USWAP_TEST_CRASH");
	const char *colon = v ? strchr(v, ':') : NULL;

	if (takeover || !kpid || !colon || (size_t)(colon - v) >= sizeof(crash_point))
		return;
	memcpy(crash_point, v, (size_t)(colon - v));
	crash_point[colon - v] = 0;
	crash_left = strtol(colon + 1, NULL, 10);
	log_info("USWAP_TEST_CRASH: this pager kills itself at %s number %ld", crash_point,
		 crash_left);
}

void keeper_crash_point(const char *point)
{
	if (crash_left <= 0 || !point || strcmp(point, crash_point))
		return;
	if (__atomic_sub_fetch(&crash_left, 1, __ATOMIC_RELAXED) == 0) {
		log_info("USWAP_TEST_CRASH: killed at %s", point);
		kill(getpid(), SIGKILL);
	}
}
