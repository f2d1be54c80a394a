/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the hook reads from the runtime: the OCI state on its stdin (runtime-spec state.md),
 * the bundle's config.json, and the io.uswap.* annotations found in either.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Inputs larger than this are refused with -EFBIG before parsing. */
#define USWAP_OCI_STATE_MAX_BYTES (1u << 20)
/* config.json carries env, mounts and seccomp profiles, so it gets more room. */
#define USWAP_OCI_CONFIG_MAX_BYTES (8u << 20)

/* PID_MAX_LIMIT on 64-bit kernels: pid_max can't be raised above it, pids stay below it. */
#define USWAP_PID_MAX_LIMIT (1 << 22)

struct uswap_kv {
	char *key;
	char *value;
};

struct uswap_oci_state {
	char oci_version[32];
	char id[128]; /* non-empty, no '/', no control characters, not "." or ".." */
	char status[32]; /* "creating", "created", "running", "stopped" (not checked) */
	pid_t pid; /* 0 when absent (poststop); required for "created" and "running" */
	char bundle[4096]; /* absolute */
	struct uswap_kv *annotations; /* sorted by key, keys unique */
	size_t nannotations;
};

struct uswap_oci_config {
	struct uswap_kv *annotations; /* sorted by key, keys unique */
	size_t nannotations;
	uint64_t memory_limit; /* linux.resources.memory.limit; 0 = unlimited */
	char cgroups_path[4096]; /* linux.cgroupsPath; "" when absent */
};

/*
 * Read the state JSON from fd to EOF and parse it. Unknown keys are ignored; a document that
 * is not an object, has a wrong type, a duplicate key, an invalid id, pid or bundle, or a
 * non-string annotation value is -EBADMSG, and so is JSON that is not strict RFC 8259 (comments,
 * NUL bytes, "\u0000", lone surrogates, malformed UTF-8) or nests deeper than 64 levels.
 * Larger than USWAP_OCI_STATE_MAX_BYTES: -EFBIG.
 * Other -errno from read(). *ret is written only on success; free it with
 * uswap_oci_state_free().
 */
int uswap_oci_state_parse_fd(int fd, struct uswap_oci_state *ret);
void uswap_oci_state_free(struct uswap_oci_state *st);
#define _cleanup_oci_state_ __attribute__((cleanup(uswap_oci_state_free)))

/*
 * Read a bundle's config.json from fd: annotations (same rules as above), the memory limit
 * (an integer; absent, null, 0 and -1 all mean unlimited) and cgroupsPath. Everything else
 * is ignored. 0, -EBADMSG, -EFBIG (over USWAP_OCI_CONFIG_MAX_BYTES) or -errno.
 */
int uswap_oci_config_parse_fd(int fd, struct uswap_oci_config *ret);
void uswap_oci_config_free(struct uswap_oci_config *cfg);
#define _cleanup_oci_config_ __attribute__((cleanup(uswap_oci_config_free)))

/* The value of key in kv[0..n), or NULL. */
const char *uswap_kv_get(const struct uswap_kv *kv, size_t n, const char *key);

#define USWAP_ANNOTATION_PREFIX "io.uswap."
#define USWAP_ANNOTATION_ENABLED "io.uswap.enabled"
#define USWAP_ANNOTATION_TARGET "io.uswap.target"
#define USWAP_ANNOTATION_STORE "io.uswap.store"
#define USWAP_ANNOTATION_REQUIRED "io.uswap.required"

struct uswap_annotations {
	bool enabled; /* io.uswap.enabled, default false */
	uint64_t target_bytes; /* io.uswap.target as a size; 0 = none */
	unsigned target_percent; /* io.uswap.target as "N%" of the memory limit; 0 = none */
	char store[4096]; /* io.uswap.store, normalized; "" = the caller's default */
	bool required; /* io.uswap.required: fail the container if uswap can't run */
};

/*
 * Turn the io.uswap.* annotations among kv[0..n) into *ret; other annotations are ignored,
 * an unknown io.uswap.* key (any case) is an error, so a typo can't silently disable uswap.
 * io.uswap.store must lie inside allowed_store_root after lexical normalization (symlinks
 * are not resolved here); with allowed_store_root NULL or "" it is refused.
 * Returns 0 (err set to "") or -EINVAL with one line in err naming the key, the value
 * (escaped, truncated) and the accepted forms. err may be NULL when errlen is 0.
 */
int uswap_annotations_parse(const struct uswap_kv *kv, size_t n, const char *allowed_store_root,
			    struct uswap_annotations *ret, char *err, size_t errlen);

/*
 * The target in bytes for a container whose memory limit is limit_bytes. 0 means unlimited,
 * and so does anything from USWAP_MEMORY_UNLIMITED up (cgroup v1 reports "no limit" as
 * 0x7ffffffffffff000, v2 as "max", the runtime-spec as -1). No target: *ret = 0.
 * A percentage without a limit, or an invalid *a: -EINVAL; a percentage that rounds down
 * to 0 bytes: -ERANGE.
 */
#define USWAP_MEMORY_UNLIMITED ((uint64_t)INT64_MAX - 4095)
int uswap_annotations_target_bytes(const struct uswap_annotations *a, uint64_t limit_bytes,
				   uint64_t *ret);
