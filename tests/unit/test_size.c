/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "uswap/size.h"
#include "uswap/util.h"

struct size_case {
	const char *in;
	int ret;
	uint64_t bytes;
};

static const struct size_case size_cases[] = {
	{ "0", 0, 0 },
	{ "4096", 0, 4096 },
	{ "10B", 0, 10 },
	{ "1K", 0, 1024 },
	{ "2Ki", 0, 2048 },
	{ "64M", 0, 64ull << 20 },
	{ "64Mi", 0, 64ull << 20 },
	{ "1G", 0, 1ull << 30 },
	{ "1Gi", 0, 1ull << 30 },
	{ "1T", 0, 1ull << 40 },
	{ "3Ti", 0, 3ull << 40 },
	{ "007", 0, 7 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "16777215T", 0, 16777215ull << 40 },
	{ "", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "+1", -EINVAL, 0 },
	{ "1.5G", -EINVAL, 0 },
	{ "12X", -EINVAL, 0 },
	{ "M", -EINVAL, 0 },
	{ " 5", -EINVAL, 0 },
	{ "5 ", -EINVAL, 0 },
	{ "5 M", -EINVAL, 0 },
	{ "1m", -EINVAL, 0 },
	{ "1MB", -EINVAL, 0 },
	{ "1iM", -EINVAL, 0 },
	{ "0x10", -EINVAL, 0 },
	{ "99999999999999999999X", -EINVAL, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "18446744073709551616", -ERANGE, 0 },
	{ "16777216T", -ERANGE, 0 },
	{ "17179869184G", -ERANGE, 0 },
};

static void test_parse_size_table(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		uint64_t bytes = 0xdeadbeef;
		int r = uswap_parse_size(c->in, &bytes);

		print_message("size \"%s\" -> %d\n", c->in, r);
		assert_int_equal(r, c->ret);
		/* Output parameters are only written on success. */
		assert_true(bytes == (r == 0 ? c->bytes : 0xdeadbeef));
	}
}

static void test_parse_size_null(void **state)
{
	uint64_t bytes;

	assert_int_equal(uswap_parse_size(NULL, &bytes), -EINVAL);
}

struct target_case {
	const char *in;
	int ret;
	uint64_t bytes;
	unsigned percent;
};

static const struct target_case target_cases[] = {
	{ "50%", 0, 0, 50 },
	{ "100%", 0, 0, 100 },
	{ "1%", 0, 0, 1 },
	{ "050%", 0, 0, 50 },
	{ "64M", 0, 64ull << 20, 0 },
	{ "4096", 0, 4096, 0 },
	{ "0%", -ERANGE, 0, 0 },
	{ "101%", -ERANGE, 0, 0 },
	{ "1000000000000%", -ERANGE, 0, 0 },
	{ "0", -ERANGE, 0, 0 },
	{ "%", -EINVAL, 0, 0 },
	{ "%50", -EINVAL, 0, 0 },
	{ "50%%", -EINVAL, 0, 0 },
	{ "5.5%", -EINVAL, 0, 0 },
	{ "-5%", -EINVAL, 0, 0 },
	{ " 50%", -EINVAL, 0, 0 },
	{ "50 %", -EINVAL, 0, 0 },
	{ "50M%", -EINVAL, 0, 0 },
	{ "", -EINVAL, 0, 0 },
	{ "12X", -EINVAL, 0, 0 },
	{ "18446744073709551616", -ERANGE, 0, 0 },
};

static void test_parse_target_table(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(target_cases); i++) {
		const struct target_case *c = &target_cases[i];
		uint64_t bytes = 0xdeadbeef;
		unsigned percent = 0xbeef;
		int r = uswap_parse_target(c->in, &bytes, &percent);

		print_message("target \"%s\" -> %d\n", c->in, r);
		assert_int_equal(r, c->ret);
		if (r == 0) {
			assert_true(bytes == c->bytes);
			assert_int_equal(percent, c->percent);
			/* Exactly one of the two is set. */
			assert_true((bytes == 0) != (percent == 0));
		} else {
			assert_true(bytes == 0xdeadbeef);
			assert_int_equal(percent, 0xbeef);
		}
	}
}

struct format_case {
	uint64_t bytes;
	const char *out;
};

static const struct format_case format_cases[] = {
	{ 0, "0 B" },
	{ 1023, "1023 B" },
	{ 1024, "1.0 KiB" },
	{ 1536, "1.5 KiB" },
	{ 64ull << 20, "64.0 MiB" },
	{ (1ull << 20) - 1, "1.0 MiB" },
	{ 5ull << 30, "5.0 GiB" },
	{ 3ull << 40, "3.0 TiB" },
	{ UINT64_MAX, "16.0 EiB" },
};

static void test_format_size_table(void **state)
{
	for (size_t i = 0; i < USWAP_ARRAY_SIZE(format_cases); i++) {
		char buf[32];

		assert_ptr_equal(uswap_format_size(format_cases[i].bytes, buf, sizeof(buf)), buf);
		assert_string_equal(buf, format_cases[i].out);
	}
}

static void test_format_size_truncates(void **state)
{
	char buf[4] = "xxx";

	uswap_format_size(64ull << 20, buf, sizeof(buf));
	assert_string_equal(buf, "64.");
	/* A zero length must not write at all. */
	uswap_format_size(1, buf, 0);
	assert_string_equal(buf, "64.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_table),
		cmocka_unit_test(test_parse_size_null),
		cmocka_unit_test(test_parse_target_table),
		cmocka_unit_test(test_format_size_table),
		cmocka_unit_test(test_format_size_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
