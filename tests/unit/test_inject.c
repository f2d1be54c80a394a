// SPDX-License-Identifier: Apache-2.0
/* Remote syscalls into a real child process (a parent may trace its own child without
 * privileges): one runs and the child goes on; an injection whose `syscall` instruction is
 * gone (the target exec'ed between the pager's look at it and its stop) fails instead of
 * stepping a faulting instruction forever, and leaves the child running. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inject.h"
#include "uswap/fileio.h"

/* Mapped in the child as in the parent (fork), and holds no `syscall` instruction. */
static const uint8_t no_syscall[64] __attribute__((aligned(64)));

/* Never mapped: below the lowest address mmap gives (vm.mmap_min_addr). */
#define UNMAPPED 0x1000ul

static pid_t child_start(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
		for (;;)
			pause();
	}
	return pid;
}

/* The child is not left stopped: SIGTERM ends it within 5 s. */
static void child_end(pid_t pid)
{
	int st = 0;
	pid_t r = 0;

	assert_int_equal(kill(pid, SIGTERM), 0);
	for (int i = 0; i < 500 && (r = waitpid(pid, &st, WNOHANG | __WALL)) == 0; i++)
		usleep(10000);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, __WALL);
		fail_msg("pid %d did not end on SIGTERM: left stopped (state %c)", (int)pid,
			 uswap_proc_state(pid, pid));
	}
	assert_int_equal(r, pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
}

/* A child, seized and stopped through its own vDSO's `syscall` instruction. */
static pid_t child_attached(struct inject *in)
{
	pid_t pid = child_start();
	uint64_t ip;

	assert_int_equal(inject_find_syscall_ip(pid, &ip), 0);
	assert_int_equal(inject_attach(in, pid, ip, 1000), 0);
	return pid;
}

static void syscall_runs(void **state)
{
	struct inject in;
	pid_t pid = child_attached(&in);
	long res = 0;

	(void)state;
	assert_int_equal(inject_syscall(&in, SYS_getpid, &res, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(res, pid);
	assert_int_equal(inject_detach(&in), 0);
	child_end(pid);
}

/* The instruction at syscall_ip faults: an error at once, never a step loop. */
static void faulting_ip_fails(void **state)
{
	struct inject in;
	pid_t pid = child_attached(&in);
	long res = 0;

	(void)state;
	in.syscall_ip = UNMAPPED; /* what a stale address from the image before an exec is */
	alarm(10);
	assert_true(inject_syscall(&in, SYS_getpid, &res, 0, 0, 0, 0, 0, 0) < 0);
	alarm(0);
	inject_detach(&in);
	child_end(pid);
}

/* No `syscall` instruction at the address given (it was read before an exec): attaching
 * refuses, and lets the thread go. */
static void stale_ip_refused(void **state)
{
	pid_t pid = child_start();
	struct inject in;

	(void)state;
	assert_true(inject_attach(&in, pid, (uint64_t)no_syscall, 1000) < 0);
	assert_false(in.seized);
	assert_true(inject_attach(&in, pid, UNMAPPED, 1000) < 0);
	assert_false(in.seized);
	child_end(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syscall_runs),
		cmocka_unit_test(faulting_ip_fails),
		cmocka_unit_test(stale_ip_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
