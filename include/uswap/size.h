/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

/*
 * Parse a byte size: a decimal integer with an optional suffix K, M, G, T (powers of 1024,
 * as in "64M"), Ki, Mi, Gi, Ti (the same), or B. No sign, no spaces, no fractions; overflow
 * is an error. Returns 0 and sets *ret_bytes, or -EINVAL / -ERANGE.
 */
int uswap_parse_size(const char *s, uint64_t *ret_bytes);

/*
 * Parse a target: a size as above, or a percentage "N%" (1..100). On success sets exactly one
 * of *ret_bytes (percent = 0) or *ret_percent (bytes = 0). Returns 0, -EINVAL or -ERANGE.
 */
int uswap_parse_target(const char *s, uint64_t *ret_bytes, unsigned *ret_percent);

/* Format bytes as "123.4 MiB" style into buf (always NUL-terminated). Returns buf. */
char *uswap_format_size(uint64_t bytes, char *buf, unsigned long len);
