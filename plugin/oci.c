/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI state (runtime-spec state.md) and a bundle's config.json, read through json.h.
 * The hook runs with the runtime's privileges while the annotations come from whoever wrote
 * the pod spec, so every field is type- and length-checked before it lands in a fixed-size
 * buffer, and the id, which ends up in paths, is checked like a file name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "uswap/oci.h"
#include "uswap/util.h"

struct kv_array {
	struct uswap_kv *kv;
	size_t n;
};

static void kv_array_free(struct kv_array *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->kv[i].key);
		free(a->kv[i].value);
	}
	free(a->kv);
	a->kv = NULL;
	a->n = 0;
}

/*
 * Go's encoding/json writes a nil map, slice or pointer without omitempty as null and reads
 * null back as "not set", so runc and podman treat null like an absent key: so do we.
 */
static int member(const struct json_value *obj, const char *key, const struct json_value **ret)
{
	const struct json_value *v;
	int r;

	r = json_object_get(obj, key, &v);
	if (r < 0)
		return r;
	if (json_type(v) == JSON_NULL)
		return -ENOENT;
	*ret = v;
	return 0;
}

/* Follow a NULL-terminated key path through nested objects. -ENOENT if any step is absent. */
static int member_path(const struct json_value *obj, const char *const *path,
		       const struct json_value **ret)
{
	const struct json_value *v = obj;
	int r;

	for (; *path; path++) {
		r = member(v, *path, &v);
		if (r < 0)
			return r;
	}
	*ret = v;
	return 0;
}

/* Copy a string member into dst. -ENOENT when absent, -EBADMSG when not a string or too long. */
static int member_string(const struct json_value *obj, const char *key, char *dst, size_t size)
{
	const struct json_value *v;
	const char *s;
	size_t len;
	int r;

	r = member(obj, key, &v);
	if (r < 0)
		return r;
	r = json_string(v, &s);
	if (r < 0)
		return r;
	len = strlen(s);
	if (len >= size)
		return -EBADMSG;
	memcpy(dst, s, len + 1);
	return 0;
}

static int required_string(const struct json_value *obj, const char *key, char *dst, size_t size)
{
	int r = member_string(obj, key, dst, size);

	return r == -ENOENT ? -EBADMSG : r;
}

/* These strings end up in log lines and file names: no terminal escapes, no line breaks. */
static bool is_printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

/* The id names the container's state directory, so it must be a single path component. */
static bool is_valid_id(const char *id)
{
	return id[0] && !strchr(id, '/') && is_printable(id) && strcmp(id, ".") != 0 &&
	       strcmp(id, "..") != 0;
}

static int kv_cmp(const void *a, const void *b)
{
	const struct uswap_kv *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/* Copy every member of an annotations object; all values must be strings. */
static int copy_annotations(const struct json_value *map, struct kv_array *a)
{
	size_t n = json_object_size(map);

	a->kv = calloc(n, sizeof(*a->kv));
	if (!a->kv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct json_value *v;
		const char *key, *value;
		int r;

		r = json_object_at(map, i, &key, &v);
		if (r < 0)
			return r;
		r = json_string(v, &value);
		if (r < 0)
			return r;
		a->n = i + 1;
		a->kv[i].key = strdup(key);
		a->kv[i].value = strdup(value);
		if (!a->kv[i].key || !a->kv[i].value)
			return -ENOMEM;
	}
	return 0;
}

/*
 * "annotations": absent, null or {} give an empty list. Sorted, a duplicate key shows up as
 * two neighbours; json_object_get() can't catch it here because we walk the members.
 */
static int parse_annotations(const struct json_value *root, struct uswap_kv **ret_kv, size_t *ret_n)
{
	__attribute__((cleanup(kv_array_free))) struct kv_array a = {};
	const struct json_value *map;
	int r;

	r = member(root, "annotations", &map);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && json_type(map) != JSON_OBJECT)
		return -EBADMSG;
	if (r == 0 && json_object_size(map) > 0) {
		r = copy_annotations(map, &a);
		if (r < 0)
			return r;
		qsort(a.kv, a.n, sizeof(*a.kv), kv_cmp);
		for (size_t i = 1; i < a.n; i++) {
			if (strcmp(a.kv[i - 1].key, a.kv[i].key) == 0)
				return -EBADMSG;
		}
	}
	*ret_n = a.n;
	*ret_kv = TAKE_PTR(a.kv);
	a.n = 0;
	return 0;
}

/* "pid" is omitempty in the runtime-spec's Go types: absent after the process is gone. */
static int parse_pid(const struct json_value *root, pid_t *ret)
{
	const struct json_value *v;
	int64_t pid;
	int r;

	r = member(root, "pid", &v);
	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = json_int64(v, &pid);
	if (r < 0)
		return r;
	if (pid < 0 || pid >= USWAP_PID_MAX_LIMIT)
		return -EBADMSG;
	*ret = (pid_t)pid;
	return 0;
}

static int parse_state_strings(const struct json_value *root, struct uswap_oci_state *st)
{
	int r;

	r = required_string(root, "ociVersion", st->oci_version, sizeof(st->oci_version));
	if (r < 0)
		return r;
	r = required_string(root, "id", st->id, sizeof(st->id));
	if (r < 0)
		return r;
	r = required_string(root, "status", st->status, sizeof(st->status));
	if (r < 0)
		return r;
	r = required_string(root, "bundle", st->bundle, sizeof(st->bundle));
	if (r < 0)
		return r;
	if (!is_printable(st->oci_version) || !is_valid_id(st->id) || !st->status[0] ||
	    !is_printable(st->status) || st->bundle[0] != '/')
		return -EBADMSG;
	return 0;
}

static int parse_state(const struct json_value *root, struct uswap_oci_state *st)
{
	int r;

	if (json_type(root) != JSON_OBJECT)
		return -EBADMSG;
	r = parse_state_strings(root, st);
	if (r < 0)
		return r;
	r = parse_pid(root, &st->pid);
	if (r < 0)
		return r;
	/* state.md: pid is REQUIRED when status is created or running. */
	if (st->pid == 0 &&
	    (strcmp(st->status, "created") == 0 || strcmp(st->status, "running") == 0))
		return -EBADMSG;
	return parse_annotations(root, &st->annotations, &st->nannotations);
}

int uswap_oci_state_parse_fd(int fd, struct uswap_oci_state *ret)
{
	_cleanup_oci_state_ struct uswap_oci_state st = {};
	_cleanup_json_ struct json_value *root = NULL;
	int r;

	if (fd < 0 || !ret)
		return -EINVAL;
	r = json_parse_fd(fd, USWAP_OCI_STATE_MAX_BYTES, &root);
	if (r < 0)
		return r;
	r = parse_state(root, &st);
	if (r < 0)
		return r;
	*ret = st;
	st = (struct uswap_oci_state){};
	return 0;
}

void uswap_oci_state_free(struct uswap_oci_state *st)
{
	struct kv_array a = { st->annotations, st->nannotations };

	kv_array_free(&a);
	st->annotations = NULL;
	st->nannotations = 0;
}

/* linux.resources.memory.limit: int64 bytes; the runtime-spec spells "unlimited" as -1. */
static int parse_memory_limit(const struct json_value *root, uint64_t *ret)
{
	static const char *const path[] = { "linux", "resources", "memory", "limit", NULL };
	const struct json_value *v;
	int64_t limit;
	int r;

	r = member_path(root, path, &v);
	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = json_int64(v, &limit);
	if (r < 0)
		return r;
	if (limit < -1)
		return -EBADMSG;
	*ret = limit == -1 ? 0 : (uint64_t)limit;
	return 0;
}

static int parse_config(const struct json_value *root, struct uswap_oci_config *cfg)
{
	const struct json_value *linux_section;
	int r;

	if (json_type(root) != JSON_OBJECT)
		return -EBADMSG;
	r = parse_memory_limit(root, &cfg->memory_limit);
	if (r < 0)
		return r;
	r = member(root, "linux", &linux_section);
	if (r == 0)
		r = member_string(linux_section, "cgroupsPath", cfg->cgroups_path,
				  sizeof(cfg->cgroups_path));
	if (r < 0 && r != -ENOENT)
		return r;
	return parse_annotations(root, &cfg->annotations, &cfg->nannotations);
}

int uswap_oci_config_parse_fd(int fd, struct uswap_oci_config *ret)
{
	_cleanup_oci_config_ struct uswap_oci_config cfg = {};
	_cleanup_json_ struct json_value *root = NULL;
	int r;

	if (fd < 0 || !ret)
		return -EINVAL;
	r = json_parse_fd(fd, USWAP_OCI_CONFIG_MAX_BYTES, &root);
	if (r < 0)
		return r;
	r = parse_config(root, &cfg);
	if (r < 0)
		return r;
	*ret = cfg;
	cfg = (struct uswap_oci_config){};
	return 0;
}

void uswap_oci_config_free(struct uswap_oci_config *cfg)
{
	struct kv_array a = { cfg->annotations, cfg->nannotations };

	kv_array_free(&a);
	cfg->annotations = NULL;
	cfg->nannotations = 0;
}

const char *uswap_kv_get(const struct uswap_kv *kv, size_t n, const char *key)
{
	if (!kv || !key)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	}
	return NULL;
}
