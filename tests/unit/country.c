/*
 * NAME
 *	unit_country - the country names that tell register's orders apart
 *	(worker/country.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "worker/worker.h"

static bool
known(const char *s)
{
	return country_known(s, strlen(s));
}

static void
test_names_and_spellings(void **state)
{
	assert_true(known("Portugal"));
	assert_true(known("indonesia"));
	assert_true(known("INDONESIA"));
	assert_true(known("United_Kingdom"));
	assert_true(known("united-kingdom"));
	assert_true(known("UnitedStates"));
	assert_true(known("Inggris"));
	assert_true(known("Kroasia"));
	assert_true(known("Jepang"));
	assert_true(known("Korea_Selatan"));
}

static void
test_not_countries(void **state)
{
	assert_false(known(""));
	assert_false(known("_-."));
	assert_false(known("surabaya"));
	assert_false(known("pw7"));
	assert_false(known("cr7"));
	assert_false(known("admin"));
	assert_false(known("Portugal1"));
	assert_false(known("us"));		/* too short to be evidence */
	assert_false(known("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(known("Portu\0gal"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_spellings),
		cmocka_unit_test(test_not_countries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
