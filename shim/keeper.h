/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keeper: the shim's first process. It maps the arena, opens the store, then forks the
 * pager and does nothing but wait. It holds what must outlive a pager that dies (the arena,
 * the store file, a copy of every userfaultfd the pager serves) and, when the pager is killed
 * or crashes, forks a new one that takes over from the arena. It forwards SIGTERM and friends
 * to the pager and exits with its status.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The pager's body, in a child of the keeper: takeover is false the first time. Returns the
 * process's exit code. */
typedef int (*keeper_body_fn)(bool takeover, void *arg);

/* Run body in a child and keep one running until it exits on its own; returns the exit
 * code to leave with. root_pid (run mode: the command, once started; 0 otherwise) is
 * read when a process the keeper reaps may be it: its status then becomes the exit code,
 * since a pager that took over is not its parent. first_only_fd (or -1) is the first pager's
 * alone: the keeper closes its copy once that one runs. */
int keeper_run(keeper_body_fn body, void *arg, const volatile pid_t *root_pid, int first_only_fd);

/* The keeper's pid (what status and the hook name as the shim), or 0 without a keeper. */
pid_t keeper_pid(void);

/* In the pager: give the keeper a copy of the userfaultfd of space serial (replacing any it
 * holds for that serial), or let it close its copy. No-ops without a keeper. */
void keeper_hold(uint64_t serial, int fd);
void keeper_forget(uint64_t serial);

/* In the pager, at each tick: say once if the keeper is gone (killed): a pager that dies
 * after it is not replaced. */
void keeper_check(void);

/* In a pager that took over: the keeper's copy of serial's userfaultfd, now an fd of ours
 * (inherited at fork), or -1. */
int keeper_fd(uint64_t serial);
/* Close the copies no space claimed (keeper_fd) and have the keeper close them too. */
void keeper_drop_unclaimed(void);

/* Testing a takeover: USWAP_TEST_CRASH=POINT:N has the first pager under a keeper kill itself
 * (SIGKILL) the N-th time it passes POINT. The points: fault-read (a fault on an evicted page
 * read from a userfaultfd, not yet served), in-hold (a thread of the workload held, its signals
 * blocked, before a round of MOVEs), stash-moved (a batch moved into the stash, not read
 * out), batch-published (a batch read out into memory, its store write not done). A pager that
 * takes over never does. */
void keeper_crash_setup(bool takeover);
void keeper_crash_point(const char *point);
