/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "keeper.h"
#include "uswap/fileio.h"
#include "uswap/log.h"
#include "uswap/util.h"

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK 0x420a
#define PTRACE_SETSIGMASK 0x420b
#endif

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

#ifndef IORING_ENTER_EXT_ARG_REG
#define IORING_ENTER_EXT_ARG_REG (1U << 6)
#endif
/* The kernel's restart codes, which a stopped thread's rax may show. */
#define ERESTARTSYS_ 512
#define ERESTARTNOINTR_ 513
#define ERESTARTNOHAND 514 /* restart unless a handler runs */
#define ERESTART_RESTARTBLOCK_ 516

#define MAX_LINGERING 64

static pid_t lingering[MAX_LINGERING];
static unsigned nlingering;
/* Exit statuses our waits for a stop took instead (a tracee that died meanwhile): for a child
 * of ours, the only report of how it ended. */
static struct reaped_exit {
	pid_t pid;
	int status;
} reaped[16];
static unsigned nreaped;
static uint64_t stop_total_ns, stop_max_ns, stop_count;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int target_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { .iov_base = (void *)buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = len };
	ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int target_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static int find_vdso(pid_t pid, uint64_t *ret_start, uint64_t *ret_end)
{
	char path[64], line[512];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (!strstr(line, "[vdso]"))
			continue;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2) {
			*ret_start = a;
			*ret_end = b;
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}

/* Does pid hold a `syscall` instruction (0f 05) at ip? 0, -ENOEXEC, or -errno. */
static int holds_syscall(pid_t pid, uint64_t ip)
{
	uint8_t insn[2];
	int r = target_read(pid, ip, insn, sizeof(insn));

	if (r < 0)
		return r;
	return insn[0] == 0x0f && insn[1] == 0x05 ? 0 : -ENOEXEC;
}

/* A signal a faulting instruction raises: stepping it again would only raise it again. */
static bool fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
}

int inject_find_syscall_ip(pid_t pid, uint64_t *ret_ip)
{
	static uint64_t own_offset;
	uint64_t start, end;
	int r;

	if (!own_offset) {
		const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
		uint64_t s, e;

		if (!base || find_vdso(getpid(), &s, &e) < 0)
			return -ENOENT;
		for (uint64_t i = 0; i + 1 < e - s; i++) {
			if (base[i] == 0x0f && base[i + 1] == 0x05) {
				own_offset = i;
				break;
			}
		}
		if (!own_offset)
			return -ENOENT;
	}
	r = find_vdso(pid, &start, &end);
	if (r < 0)
		return r;
	if (start + own_offset + 2 > end)
		return -ENOENT;
	r = holds_syscall(pid, start + own_offset);
	if (r < 0)
		return r;
	*ret_ip = start + own_offset;
	return 0;
}

static void linger(pid_t tid)
{
	if (nlingering < MAX_LINGERING)
		lingering[nlingering++] = tid;
}

/*
 * The interrupt that stops a thread makes some blocking calls return EINTR at once where
 * others are restarted unseen: epoll_wait, io_uring_enter, sigtimedwait, semop (signal(7),
 * "Interruption of system calls by stop signals"). The program gets no signal, so that EINTR
 * would be the pager showing through. Where the wait has no timeout, turn it into
 * -ERESTARTNOHAND: the kernel then restarts the call when the thread goes on, and still
 * returns EINTR if a signal handler runs first, as the call itself would have. A wait with a
 * timeout keeps its EINTR: restarted, it would begin its whole timeout again.
 */
enum wait_kind {
	WAIT_NONE, /* not a call the interrupt ends with EINTR */
	WAIT_RESTARTED, /* one with no timeout: restart_interrupted_wait restarts it */
	WAIT_SHOWS, /* one with a timeout: the program gets the EINTR */
};

/* What a thread in system call nr (third and fourth arguments a3, a4) would make of our
 * interrupt. */
static enum wait_kind wait_kind(long nr, unsigned long a3, unsigned long a4)
{
	bool unbounded;

	switch (nr) {
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
		unbounded = (int)a4 < 0; /* timeout in ms; negative: none */
		break;
	case SYS_epoll_pwait2:
	case SYS_semtimedop:
		unbounded = a4 == 0; /* no timespec */
		break;
	case SYS_rt_sigtimedwait:
		unbounded = a3 == 0;
		break;
	case SYS_semop:
		unbounded = true;
		break;
	case SYS_io_uring_enter:
		/* a timeout comes only in an extended argument */
		unbounded = !(a4 & (IORING_ENTER_EXT_ARG | IORING_ENTER_EXT_ARG_REG));
		break;
	default:
		return WAIT_NONE;
	}
	return unbounded ? WAIT_RESTARTED : WAIT_SHOWS;
}

static void restart_interrupted_wait(struct user_regs_struct *r)
{
	if ((long)r->rax == -EINTR &&
	    wait_kind((long)r->orig_rax, r->rdx, r->r10) == WAIT_RESTARTED)
		r->rax = (unsigned long)-ERESTARTNOHAND;
}

/* Would stopping tid now end a wait of the program's with EINTR (one with a timeout)? From
 * /proc/PID/task/TID/syscall: "nr a1 .. a6 sp pc" while blocked, "running" otherwise. */
static bool stop_shows(pid_t pid, pid_t tid)
{
	char path[64], buf[256];
	unsigned long a[6];
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	if (uswap_read_small(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4],
		   &a[5]) != 7)
		return false;
	return wait_kind(nr, a[2], a[3]) == WAIT_SHOWS;
}

/* Let go of a thread in a stop we did not use (waitpid status st): a signal it was about to
 * receive is passed on, an interrupted wait goes on. */
static void release(pid_t tid, int st)
{
	struct user_regs_struct regs;

	if ((st >> 16) == 0) {
		ptrace(PTRACE_DETACH, tid, 0, WSTOPSIG(st));
		return;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
		unsigned long rax = regs.rax;

		restart_interrupted_wait(&regs);
		if (regs.rax != rax)
			ptrace(PTRACE_SETREGS, tid, 0, &regs);
	}
	ptrace(PTRACE_DETACH, tid, 0, 0);
}

void inject_release(pid_t tid, int st)
{
	release(tid, st);
	for (unsigned i = 0; i < nlingering; i++)
		if (lingering[i] == tid)
			lingering[i] = lingering[--nlingering];
}

void inject_reap_lingering(void)
{
	for (unsigned i = 0; i < nlingering;) {
		int st;
		pid_t r = waitpid(lingering[i], &st, __WALL | WNOHANG);

		if (r == 0) {
			i++;
			continue;
		}
		if (r > 0 && WIFSTOPPED(st))
			release(lingering[i], st);
		lingering[i] = lingering[--nlingering];
	}
}

/* Wait for tid's next stop; 0 with *ret_status, -ETIMEDOUT, or -ESRCH if it died. The
 * pager's threads all block SIGCHLD, and the kernel sends the tracer one for every stop of
 * a tracee: sleeping in sigtimedwait() wakes us the moment the thread stops, where polling
 * waitpid() cost each injected syscall ~200 us on a busy machine. Each sleep is capped at
 * 1 ms, so a caller without SIGCHLD blocked still works, only slower. */
static int wait_stop(pid_t tid, int timeout_ms, int *ret_status)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		struct timespec ts = { 0, 1000000 };
		uint64_t now;
		int st;
		pid_t r = waitpid(tid, &st, __WALL | WNOHANG);

		if (r < 0)
			return errno == ECHILD ? -ESRCH : -errno;
		if (r == tid) {
			if (WIFEXITED(st) || WIFSIGNALED(st)) {
				pthread_mutex_lock(&stats_lock);
				reaped[nreaped++ % 16] = (struct reaped_exit){ tid, st };
				pthread_mutex_unlock(&stats_lock);
				return -ESRCH;
			}
			*ret_status = st;
			return 0;
		}
		now = now_ns();
		if (now > deadline)
			return -ETIMEDOUT;
		if (deadline - now < 1000000)
			ts.tv_nsec = (long)(deadline - now);
		sigtimedwait(&chld, NULL, &ts);
	}
}

#define PF_IO_WORKER_ 0x00000010u /* io_uring's workers: iou-wrk, iou-sqp */
#define PF_USER_WORKER_ 0x00004000u /* any kernel-made worker in a process (vhost too) */

/* A thread we may stop and borrow: alive, not traced by someone else, and running the
 * program's code. The kernel's workers inside a process never return to user space: stopped,
 * one would never run our syscall (it sat in the stop until the step's 60 s timeout, then
 * the trap killed the program). */
static bool thread_usable(pid_t pid, pid_t tid)
{
	unsigned long flags;
	char st;

	if (uswap_proc_stat(pid, tid, &st, &flags) < 0)
		return false;
	/* Zombies and dead threads never stop; 't' is already traced by someone. */
	return st != 'Z' && st != 'X' && st != 't' && !(flags & (PF_IO_WORKER_ | PF_USER_WORKER_));
}

/* The thread's seccomp mode (0 none, 1 strict, 2 filter; -1 unknown) and the signals the
 * program catches, from its status. */
static int thread_status(pid_t pid, pid_t tid, uint64_t *ret_caught)
{
	char path[64], buf[4096], *s;

	*ret_caught = ~0ull; /* unknown: as if it caught every signal */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (uswap_read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	if ((s = strstr(buf, "\nSigCgt:")))
		*ret_caught = strtoull(s + 8, NULL, 16);
	if (!(s = strstr(buf, "\nSeccomp:")))
		return -1;
	return atoi(s + 9);
}

/*
 * The signal that ends a round of our code while the thread is traced (inject_use_runner): one
 * whose default is to be ignored, that the program neither catches nor blocks in this thread.
 * Traced, the thread stops for it; if the pager died meanwhile, it is ignored, as it would be
 * without us, and the thread parks. 0 if none is free: rounds then end on a trap, which kills
 * the thread if no tracer is there to take it. Sending it takes gettid, getpid and tgkill,
 * which a seccomp filter is as likely to allow as any call (raise, abort and pthread_kill make
 * them); if it refuses tgkill, that round ends on the trap.
 */
static int pick_marker(uint64_t caught, uint64_t blocked)
{
	static const int candidates[] = { SIGURG, SIGWINCH, SIGCHLD };

	for (size_t i = 0; i < USWAP_ARRAY_SIZE(candidates); i++) {
		uint64_t bit = 1ull << (candidates[i] - 1);

		if (!(caught & bit) && !(blocked & bit))
			return candidates[i];
	}
	return 0;
}

/*
 * A thread stopped inside an rseq critical section must resume at its abort handler: the
 * kernel would send it there when it next returns to user mode, but it returns first with our
 * registers (the runner's address, outside the section), and the kernel then only forgets the
 * section; with its own registers back, the thread would finish a section it was preempted in
 * as if it had not been. So do what the kernel does (rseq(2), rseq_ip_fixup) to the registers
 * we keep for it. A section should make no system call, but if the thread was stopped in one,
 * the kernel's restart logic comes first (a call to be restarted leaves its number in rax),
 * then the abort, and the call is not made again.
 */
static void rseq_abort(struct inject *in)
{
	struct {
		uint64_t ptr;
		uint32_t size, sig, flags, pad;
	} conf = { 0 };
	struct {
		uint32_t version, flags;
		uint64_t start_ip, post_commit_offset, abort_ip;
	} cs;
	uint64_t cs_ptr, ip = in->saved.rip;
	uint32_t sig;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, in->tid, sizeof(conf), &conf) <= 0 || !conf.ptr)
		return;
	/* struct rseq: cpu_id_start, cpu_id (4 bytes each), then rseq_cs */
	if (target_read(in->tid, conf.ptr + 8, &cs_ptr, sizeof(cs_ptr)) < 0 || !cs_ptr ||
	    target_read(in->tid, cs_ptr, &cs, sizeof(cs)) < 0 || cs.version != 0 ||
	    ip < cs.start_ip || ip - cs.start_ip >= cs.post_commit_offset ||
	    target_read(in->tid, cs.abort_ip - sizeof(sig), &sig, sizeof(sig)) < 0 ||
	    sig != conf.sig)
		return;
	log_debug("tid %d: stopped in an rseq critical section at %#lx: it resumes at its abort "
		  "handler %#lx",
		  in->tid, (unsigned long)ip, (unsigned long)cs.abort_ip);
	if ((long)in->saved.orig_rax != -1) {
		long rax = (long)in->saved.rax;

		if (rax == -ERESTARTSYS_ || rax == -ERESTARTNOINTR_ || rax == -ERESTARTNOHAND)
			in->saved.rax = in->saved.orig_rax;
		else if (rax == -ERESTART_RESTARTBLOCK_)
			in->saved.rax = SYS_restart_syscall;
		in->saved.orig_rax = (unsigned long)-1;
	}
	in->saved.rip = cs.abort_ip;
}

static struct inject_hold *hold_rec;

void inject_record_holds(struct inject_hold *rec)
{
	hold_rec = rec;
}

/* inject_prepare; fix_rseq false where no fault can be served yet (a pager taking over),
 * since reading the rseq area might fault. */
static int prepare(struct inject *in, pid_t pid, pid_t tid, uint64_t syscall_ip, bool fix_rseq)
{
	uint64_t caught, hold_mask;
	int mode;

	memset(in, 0, sizeof(*in));
	in->pid = pid;
	in->tid = tid;
	in->syscall_ip = syscall_ip;
	in->seized = true;
	in->stop_start_ns = now_ns();
	/* Stopped, the thread cannot add a filter: what its status says now holds while we
	 * hold it. A filter may kill it for a system call it never makes itself: callers
	 * then keep to the commonest calls. */
	mode = thread_status(pid, tid, &caught);
	if (mode == 1)
		return -EPERM;
	in->filtered = mode != 0;
	if (ptrace(PTRACE_GETREGS, tid, 0, &in->saved) < 0)
		return -errno;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(uint64_t), &in->saved_mask) < 0)
		return -errno;
	if (fix_rseq)
		rseq_abort(in);
	/* Block every signal while we own the thread (but the marker, which it ignores): no
	 * handler can run on our registers. SIGKILL and SIGSTOP cannot be blocked;
	 * inject_syscall copes with a group stop. */
	in->marker = pick_marker(caught, in->saved_mask);
	hold_mask = in->marker ? ~(1ull << (in->marker - 1)) : ~0ull;
	if (hold_rec) {
		hold_rec->pid = pid;
		hold_rec->mask = in->saved_mask;
		hold_rec->regs = in->saved;
		hold_rec->runner = 0;
		__atomic_store_n(&hold_rec->tid, tid, __ATOMIC_RELEASE);
	}
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &hold_mask) < 0)
		return -errno;
	in->prepared = true;
	/* The address was found before the stop: an exec since then replaced the image it
	 * points into, and our syscalls must not run there (on a foreign instruction, or one
	 * that faults). Stopped now, the thread cannot exec any more. */
	if (syscall_ip && holds_syscall(tid, syscall_ip) < 0)
		return -ENOEXEC;
	return 0;
}

int inject_prepare(struct inject *in, pid_t pid, pid_t tid, uint64_t syscall_ip)
{
	return prepare(in, pid, tid, syscall_ip, true);
}

static int seize_one(struct inject *in, pid_t pid, pid_t tid, uint64_t ip, int timeout_ms,
		     bool fix_rseq)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int st, r;

	memset(in, 0, sizeof(*in));
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		r = -errno;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return r;
	}
	for (;;) {
		uint64_t now = now_ns();

		r = wait_stop(tid, now < deadline ? (int)((deadline - now) / 1000000) : 0, &st);
		if (r == -ETIMEDOUT) {
			/* Still running (e.g. inside a fault we serve, or frozen): it will stop
			 * later. */
			linger(tid);
			return r;
		}
		if (r < 0)
			return r;
		if ((st >> 16) != 0)
			break;
		/* A signal-delivery stop: the thread was taking a signal of its own as we came.
		 * Let it have it (with its siginfo untouched); the interrupt stops it next. */
		if (ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(st)) < 0) {
			r = -errno;
			ptrace(PTRACE_DETACH, tid, 0, WSTOPSIG(st));
			return r;
		}
	}
	return prepare(in, pid, tid, ip, fix_rseq);
}

/* Seize the first usable thread, the main one first; with quiet_only, only threads whose stop
 * the program cannot see. */
static int attach_one(struct inject *in, pid_t pid, uint64_t syscall_ip, int timeout_ms,
		      bool quiet_only)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int r = -ESRCH;

	if (thread_usable(pid, pid) && !(quiet_only && stop_shows(pid, pid))) {
		r = seize_one(in, pid, pid, syscall_ip, timeout_ms, true);
		if (r == 0 || r == -EPERM)
			return r;
		if (in->seized)
			inject_detach(in);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -ESRCH;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || tid == pid || !thread_usable(pid, tid) ||
		    (quiet_only && stop_shows(pid, tid)))
			continue;
		r = seize_one(in, pid, tid, syscall_ip, timeout_ms, true);
		if (r == 0 || r == -EPERM)
			break;
		if (in->seized)
			inject_detach(in);
	}
	closedir(d);
	return r;
}

int inject_attach(struct inject *in, pid_t pid, uint64_t syscall_ip, int timeout_ms)
{
	/* First a thread whose stop the program cannot see (a worker in a futex wait, say,
	 * rather than an event loop in epoll_wait with a timeout), then any. */
	int r = attach_one(in, pid, syscall_ip, timeout_ms, true);

	if (r == 0 || r == -EPERM)
		return r;
	return attach_one(in, pid, syscall_ip, timeout_ms, false);
}

/* Let the held thread run (PTRACE_SINGLESTEP or PTRACE_CONT) until its next stop, then read
 * its registers. No timeout: it is executing our code (a long syscall, a big MOVE, may take
 * a while) and comes back. */
static int step(struct inject *in, enum __ptrace_request req, struct user_regs_struct *regs,
		int *ret_status, const char *crash_point)
{
	int r;

	if (ptrace(req, in->tid, 0, 0) < 0)
		return -errno;
	keeper_crash_point(crash_point); /* tests: the pager dies while the thread runs our code */
	r = wait_stop(in->tid, 60000, ret_status);
	if (r < 0)
		return r;
	return ptrace(PTRACE_GETREGS, in->tid, 0, regs) < 0 ? -errno : 0;
}

/*
 * The runner's code, copied into the target as it is here (position-independent: relative
 * jumps only). From its start, a round of calls from a table: rbx points at the next entry,
 * r12 counts the entries left; it stops at the first call that returns non-zero. From
 * uswap_runner_one, one call with all six arguments in registers. Either way the last result
 * goes to r13 and the round ends in a stop the pager waits for: rbp names the marker signal
 * (pick_marker) the thread sends itself, or is 0 for a trap (taken too if a seccomp filter
 * refuses the marker's tgkill). After the marker comes the park:
 * pause() for ever, all signals blocked but the marker, which the thread ignores. Traced, the
 * thread never gets there (the pager sets its registers at the marker's stop); but when the
 * pager dies in the middle of a round, the kernel lets the thread go on with our registers,
 * and it parks there until the next pager gives it its own back (inject_resume).
 */
#define STR_(x) #x
#define STR(x) STR_(x)
/* clang-format off */
__asm__(".pushsection .rodata\n"
	".globl uswap_runner_code\n"
	"uswap_runner_code:\n"
	"1:	test %r12, %r12\n"
	"	jz 3f\n"
	"	mov (%rbx), %rax\n"
	"	mov 8(%rbx), %rdi\n"
	"	mov 16(%rbx), %rsi\n"
	"	mov 24(%rbx), %rdx\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 3f\n"
	"	add $" STR(RUNNER_ENTRY) ", %rbx\n"
	"	dec %r12\n"
	"	jmp 1b\n"
	".globl uswap_runner_one\n"
	"uswap_runner_one:\n"
	"	syscall\n"
	"3:	mov %rax, %r13\n"
	"	test %rbp, %rbp\n"
	"	jz 5f\n"
	"	mov $" STR(SYS_gettid) ", %eax\n"
	"	syscall\n"
	"	mov %rax, %rsi\n"
	"	mov $" STR(SYS_getpid) ", %eax\n"
	"	syscall\n"
	"	mov %rax, %rdi\n"
	"	mov %rbp, %rdx\n"
	"	mov $" STR(SYS_tgkill) ", %eax\n"
	"	syscall\n"
	".globl uswap_runner_marked\n"
	"uswap_runner_marked:\n"
	"	test %rax, %rax\n"
	"	jnz 5f\n"
	"4:	mov $" STR(SYS_pause) ", %eax\n"
	"	syscall\n"
	"	jmp 4b\n"
	"5:	int3\n"
	".globl uswap_runner_end\n"
	"uswap_runner_end:\n"
	".popsection\n");
/* clang-format on */
extern const uint8_t uswap_runner_code[], uswap_runner_one[], uswap_runner_marked[],
	uswap_runner_end[];

size_t inject_runner_size(void)
{
	return (size_t)(uswap_runner_end - uswap_runner_code);
}

int inject_runner_put(pid_t pid, uint64_t addr)
{
	return target_write(pid, addr, uswap_runner_code, inject_runner_size());
}

bool inject_runner_intact(pid_t pid, uint64_t addr)
{
	uint8_t code[256];
	size_t n = inject_runner_size();

	return n <= sizeof(code) && target_read(pid, addr, code, n) == 0 &&
	       memcmp(code, uswap_runner_code, n) == 0;
}

void inject_use_runner(struct inject *in, uint64_t runner)
{
	in->runner = runner;
	if (hold_rec && hold_rec->tid == in->tid)
		hold_rec->runner = runner;
}

/* Let the thread run the runner from the registers set until its round ends: the marker's
 * stop right after its tgkill, or the trap. 0 with the final registers in *regs, -EFAULT if
 * it faulted (the program unmapped or replaced the runner; *regs shows where), or -errno. */
static int runner_wait(struct inject *in, struct user_regs_struct *regs, const char *crash_point)
{
	uint64_t marked = in->runner + (uint64_t)(uswap_runner_marked - uswap_runner_code);
	uint64_t trap = in->runner + inject_runner_size();
	int st, r;

	for (;;) {
		int sig;

		r = step(in, PTRACE_CONT, regs, &st, crash_point);
		if (r < 0)
			return r;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			continue; /* a group stop: go on, as inject_syscall does */
		sig = WSTOPSIG(st);
		if ((in->marker && sig == in->marker && regs->rip == marked) ||
		    (sig == SIGTRAP && regs->rip == trap)) {
			keeper_crash_point("runner-stop"); /* tests: dies with the thread here */
			return 0;
		}
		/* A fault: the signal is not delivered, the caller's registers come back at
		 * detach. */
		if (fault_signal(sig) || sig == SIGTRAP)
			return -EFAULT;
		/* SIGSTOP (which cannot be blocked): go on; it stops the program once we let
		 * go. Anything else is the marker come from elsewhere: ignored, as the thread
		 * ignores it. */
		in->stop_after |= sig == SIGSTOP;
	}
}

int inject_run(struct inject *in, uint64_t table, uint64_t n, uint64_t *ret_done, long *ret_result)
{
	struct user_regs_struct regs = in->saved;
	int r;

	*ret_done = 0;
	if (!in->prepared || !in->runner)
		return -EINVAL;
	regs.rip = in->runner;
	regs.orig_rax = (unsigned long)-1; /* no syscall-restart logic on our registers */
	regs.rbx = table;
	regs.r12 = n;
	regs.rbp = (unsigned long)in->marker;
	if (ptrace(PTRACE_SETREGS, in->tid, 0, &regs) < 0)
		return -errno;
	r = runner_wait(in, &regs, in->filtered ? "in-runner-filtered" : "in-runner");
	if (r == 0 || r == -EFAULT)
		*ret_done = n - USWAP_MIN(regs.r12, n);
	if (r < 0)
		return r;
	*ret_result = (long)regs.r13;
	return 0;
}

int inject_syscall(struct inject *in, long nr, long *ret_result, unsigned long a1, unsigned long a2,
		   unsigned long a3, unsigned long a4, unsigned long a5, unsigned long a6)
{
	struct user_regs_struct regs = in->saved;
	int st, r;

	if (!in->prepared)
		return -EINVAL;
	regs.rip = in->runner ? in->runner + (uint64_t)(uswap_runner_one - uswap_runner_code) :
				in->syscall_ip;
	regs.rax = (unsigned long)nr;
	/* orig_rax = -1: the kernel must not apply syscall-restart logic to our registers. */
	regs.orig_rax = (unsigned long)-1;
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
	regs.r10 = a4;
	regs.r8 = a5;
	regs.r9 = a6;
	regs.rbp = (unsigned long)in->marker;
	if (ptrace(PTRACE_SETREGS, in->tid, 0, &regs) < 0)
		return -errno;
	if (in->runner) {
		uint64_t one = regs.rip;

		r = runner_wait(in, &regs, "in-syscall");
		if (r == -EFAULT && regs.rip == one && in->syscall_ip) {
			/* The runner is gone before our call ran: the vDSO's instruction. */
			inject_use_runner(in, 0);
			return inject_syscall(in, nr, ret_result, a1, a2, a3, a4, a5, a6);
		}
		if (r < 0)
			return r;
		*ret_result = (long)regs.r13;
		return 0;
	}
	for (unsigned tries = 0;; tries++) {
		int sig;

		r = step(in, PTRACE_SINGLESTEP, &regs, &st, "in-syscall");
		if (r < 0)
			return r;
		/* The instruction ran once rip moved past it; a group stop or SIGSTOP means it has
		 * not run yet: step again. A fault there would only repeat forever (the signal is
		 * not delivered): give up. */
		if (regs.rip == in->syscall_ip + 2)
			break;
		if (regs.rip != in->syscall_ip)
			return -EIO;
		sig = (st >> 16) == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(st);
		if (fault_signal(sig) || tries >= 100)
			return -EFAULT;
		/* SIGSTOP, which cannot be blocked: it stops the program once we let go. */
		in->stop_after |= sig == SIGSTOP;
	}
	*ret_result = (long)regs.rax;
	return 0;
}

int inject_detach(struct inject *in)
{
	int r = 0;

	if (!in->seized)
		return 0;
	if (in->prepared) {
		restart_interrupted_wait(&in->saved);
		if (ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved) < 0)
			r = -errno;
		if (ptrace(PTRACE_SETSIGMASK, in->tid, sizeof(uint64_t), &in->saved_mask) < 0 && !r)
			r = -errno;
		in->prepared = false;
		if (hold_rec && hold_rec->tid == in->tid)
			__atomic_store_n(&hold_rec->tid, 0, __ATOMIC_RELEASE);
	}
	if (ptrace(PTRACE_DETACH, in->tid, 0, 0) < 0 && !r && errno != ESRCH)
		r = -errno;
	/* A SIGSTOP we held back while the thread ran our code: the program's to take now. */
	if (in->stop_after) {
		log_debug("tid %d: SIGSTOP held back, sent again", in->tid);
		kill(in->pid, SIGSTOP);
	}
	in->seized = false;
	uint64_t d = now_ns() - in->stop_start_ns;

	if (d > 10000000)
		log_debug("tid %d: held in a ptrace stop for %.1f ms", in->tid, (double)d / 1e6);
	pthread_mutex_lock(&stats_lock);
	stop_total_ns += d;
	stop_count++;
	if (d > stop_max_ns)
		stop_max_ns = d;
	pthread_mutex_unlock(&stats_lock);
	return r;
}

int inject_resume(const struct inject_hold *rec)
{
	struct inject in;
	bool parked;
	/* Its registers were fixed for rseq when it was first held (rec->regs). */
	int r = seize_one(&in, rec->pid, rec->tid, 0, 1000, false);

	if (r < 0) {
		if (in.seized)
			inject_detach(&in);
		return r;
	}
	parked = rec->runner && in.saved.rip >= rec->runner &&
		 in.saved.rip < rec->runner + inject_runner_size();
	if (parked)
		in.saved = rec->regs;
	in.saved_mask = rec->mask;
	r = inject_detach(&in);
	return r < 0 ? r : parked;
}

bool inject_reaped_status(pid_t pid, int *ret_status)
{
	bool found = false;

	pthread_mutex_lock(&stats_lock);
	for (unsigned i = 0; i < 16 && i < nreaped; i++)
		if (reaped[i].pid == pid) {
			*ret_status = reaped[i].status;
			found = true;
		}
	pthread_mutex_unlock(&stats_lock);
	return found;
}

void inject_stop_stats(uint64_t *ret_count, double *ret_total_ms, double *ret_max_ms)
{
	pthread_mutex_lock(&stats_lock);
	*ret_count = stop_count;
	*ret_total_ms = (double)stop_total_ns / 1e6;
	*ret_max_ms = (double)stop_max_ns / 1e6;
	pthread_mutex_unlock(&stats_lock);
}
