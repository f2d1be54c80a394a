/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Remote syscalls through ptrace: seize one thread, interrupt it, run syscalls on its behalf
 * (through the runner the pager mapped into the target, or before there is one, a `syscall`
 * instruction of the target's vDSO), restore its registers and signal mask exactly, detach.
 * Only the seized thread stops.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct inject {
	pid_t pid; /* thread group */
	pid_t tid; /* the seized thread */
	uint64_t syscall_ip; /* address of a `syscall` instruction in the target */
	struct user_regs_struct saved;
	uint64_t saved_mask;
	bool seized; /* PTRACE_SEIZE done, thread in a ptrace stop */
	bool prepared; /* registers and mask saved, must be restored */
	bool stop_after; /* a SIGSTOP came while the thread ran our code: send it at detach */
	bool filtered; /* the thread runs under a seccomp filter (read at the stop) */
	int marker; /* the signal that ends a runner round (0: a trap ends it) */
	uint64_t runner; /* the runner in the target, for single calls too (0: the vDSO's) */
	uint64_t stop_start_ns;
};

/* Find a `syscall` instruction in pid's address space (same offset in its vDSO as in ours,
 * verified by reading it). 0 or -errno. */
int inject_find_syscall_ip(pid_t pid, uint64_t *ret_ip);

/* Seize a live thread of pid and bring it to a ptrace stop within timeout_ms, then save its
 * state and block its signals. -EPERM if another tracer holds it, -ESRCH if gone,
 * -ETIMEDOUT if no thread stopped in time (e.g. frozen; the thread is released later). */
int inject_attach(struct inject *in, pid_t pid, uint64_t syscall_ip, int timeout_ms);

/* For a thread the caller already seized and that sits in a ptrace stop. A thread in
 * seccomp's strict mode cannot be used (any other system call kills it): -EPERM. */
int inject_prepare(struct inject *in, pid_t pid, pid_t tid, uint64_t syscall_ip);

/* Run one syscall in the target. Returns 0 if the syscall ran (its raw result, -errno on
 * failure, in *ret_result), or -errno if the injection itself failed (target gone...). */
int inject_syscall(struct inject *in, long nr, long *ret_result, unsigned long a1, unsigned long a2,
		   unsigned long a3, unsigned long a4, unsigned long a5, unsigned long a6);

/*
 * The runner: a few instructions the pager maps into the target (read and execute only) that
 * make a series of system calls from a table in one ptrace round trip, where
 * inject_syscall takes one round trip per call (~15-60 us on this VM). A table entry is
 * RUNNER_ENTRY bytes: nr, a1, a2, a3 (8 bytes each), then room for the call's own argument
 * struct. The runner stops at the first call that returns non-zero.
 */
#define RUNNER_ENTRY 72
#define RUNNER_ARG 32 /* offset of the argument struct in an entry */
size_t inject_runner_size(void);
/* Put the runner's code into the page at addr of pid (mapped writable; the caller makes it
 * read and execute only). 0 or -errno. */
int inject_runner_put(pid_t pid, uint64_t addr);
/* Is the runner at addr still ours (the program may have mapped over it)? */
bool inject_runner_intact(pid_t pid, uint64_t addr);
/* Run in's single calls through the runner at runner (checked intact) from now on: a round
 * ends in a stop that the thread outlives if the pager dies (see inject.c). */
void inject_use_runner(struct inject *in, uint64_t runner);
/* Run the n entries of the table at target address table through in's runner
 * (inject_use_runner; -EINVAL without one). 0 with *ret_done the calls that returned 0 and,
 * if *ret_done < n, *ret_result the result of the next one. -errno if the injection failed;
 * then *ret_done calls returned 0 and the next one may or may not have run (-EFAULT: the
 * runner faulted, it is no longer ours). */
int inject_run(struct inject *in, uint64_t table, uint64_t n, uint64_t *ret_done, long *ret_result);

/* Restore registers and mask exactly, then detach. Safe to call in any state. A wait with no
 * timeout that the stop interrupted goes on instead of returning EINTR, and a SIGSTOP that
 * came meanwhile is sent again. */
int inject_detach(struct inject *in);

/* The thread held now, its own registers and signal mask, and the runner it may run: where the
 * record lives (memory that outlives the pager, or NULL), so that a pager taking over from one
 * that died in the middle of a hold can give the thread back what is its own (inject_resume). */
struct inject_hold {
	pid_t pid, tid; /* tid 0: none held */
	uint64_t mask;
	uint64_t runner;
	struct user_regs_struct regs;
};
void inject_record_holds(struct inject_hold *rec);
/* A thread the pager that died held (rec). If it is in the runner (parked there, or still in
 * the round it was running), it carries our registers: seize it and give it its own back.
 * Either way it still blocks every signal: give it back its mask. 1 if it was in the runner,
 * 0 if it had its own registers already, or -errno. */
int inject_resume(const struct inject_hold *rec);

/* Release threads whose stop we gave up waiting for, once they stop. */
void inject_reap_lingering(void);
/* A tracee's stop (waitpid status st) was reported to a wait of ours outside any injection:
 * it is a thread we gave up waiting for. Detach it, passing on a signal it was taking. */
void inject_release(pid_t tid, int st);

/* The wait status of pid if a wait of ours for its stop took its exit instead (it died while
 * we held or seized it); false if none did. */
bool inject_reaped_status(pid_t pid, int *ret_status);

/* Stop-time accounting (all injections of this process). */
void inject_stop_stats(uint64_t *ret_count, double *ret_total_ms, double *ret_max_ms);

/* Copy to/from target memory (process_vm_*). 0 or -errno (short copies are -EFAULT). */
int target_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int target_read(pid_t pid, uint64_t addr, void *buf, size_t len);

uint64_t now_ns(void);
