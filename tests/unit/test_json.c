/*
 * JSON out: any bytes become valid UTF-8 JSON that parses back to the
 * sanitized string; JSON in: errors name the file and line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "tap.h"

/* Deterministic bytes: the test is the same on every run. */
static uint32_t rng_state = 12345;

static uint32_t
next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static int
is_valid_utf8(const char *s, size_t len)
{
	size_t out_len;
	char *clean = pgp_utf8_sanitize(s, len, &out_len);
	int same = clean && out_len == len && memcmp(clean, s, len) == 0;

	free(clean);
	return same;
}

int
main(void)
{
	int roundtrip_ok = 1, printable_ok = 1, utf8_ok = 1;
	char buf[64];
	struct json_object *obj, *back;
	size_t out_len;
	char *clean;

	pgp_log_init("pgp-test");

	/* Every single byte value, alone. */
	for (int b = 0; b < 256; b++) {
		const char *text;
		char c = (char) b;

		obj = pgp_json_string(&c, 1);
		text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
		for (const char *p = text; *p; p++)
			if ((unsigned char) *p < 0x20)
				printable_ok = 0;
		if (!is_valid_utf8(text, strlen(text)))
			utf8_ok = 0;
		json_object_put(obj);
	}
	ok(printable_ok, "no raw control character in the output of any byte");
	ok(utf8_ok, "output of every byte is valid UTF-8");

	/* 5000 random byte strings, NUL included: print, parse back, compare. */
	for (int i = 0; i < 5000 && roundtrip_ok; i++) {
		size_t len = next_random() % sizeof(buf);
		const char *text, *got;

		for (size_t j = 0; j < len; j++)
			buf[j] = (char) (next_random() & 0xFF);
		obj = json_object_new_object();
		json_object_object_add(obj, "s", pgp_json_string(buf, len));
		text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
		if (!is_valid_utf8(text, strlen(text)) ||
		    pgp_json_parse(text, strlen(text), "test", &back) != 0) {
			roundtrip_ok = 0;
			json_object_put(obj);
			break;
		}
		clean = pgp_utf8_sanitize(buf, len, &out_len);
		got = json_object_get_string(json_object_object_get(back, "s"));
		if ((size_t) json_object_get_string_len(json_object_object_get(back, "s")) != out_len ||
		    memcmp(got, clean, out_len) != 0)
			roundtrip_ok = 0;
		free(clean);
		json_object_put(back);
		json_object_put(obj);
	}
	ok(roundtrip_ok, "5000 random byte strings survive print and parse");

	clean = pgp_utf8_sanitize("a\xC3\xA9z", 4, &out_len);
	ok(out_len == 4 && memcmp(clean, "a\xC3\xA9z", 4) == 0, "valid UTF-8 kept as is");
	free(clean);
	clean = pgp_utf8_sanitize("\xC0\xAF", 2, &out_len);
	ok(out_len == 6, "overlong encoding replaced byte by byte");
	free(clean);
	clean = pgp_utf8_sanitize("\xED\xA0\x80", 3, &out_len);
	ok(out_len == 9, "UTF-16 surrogate refused");
	free(clean);
	clean = pgp_utf8_sanitize("\xF0\x9F\x98\x80", 4, &out_len);
	ok(out_len == 4, "4-byte emoji kept");
	free(clean);

	obj = pgp_json_cstring("quote\" back\\ slash/ tab\t");
	is_str(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	       "\"quote\\\" back\\\\ slash/ tab\\t\"", "quotes, backslashes and tabs escaped");
	json_object_put(obj);
	ok(pgp_json_cstring(NULL) == NULL, "NULL string is JSON null");

	{
		int saved = dup(2);
		FILE *ef = tmpfile();
		char err[512] = "";
		size_t n;
		int rc;

		dup2(fileno(ef), 2);
		rc = pgp_json_parse("{\n\"a\": 1,\n\"b\": }\n", 17, "manifest.json", &back);
		dup2(saved, 2);
		close(saved);
		rewind(ef);
		n = fread(err, 1, sizeof(err) - 1, ef);
		err[n] = '\0';
		fclose(ef);
		if (n && err[n - 1] == '\n')
			err[n - 1] = '\0';
		ok(rc == -1 && strstr(err, "manifest.json:3:"), "parse error names file and line: %s", err);
		ok(pgp_json_parse("{} x", 4, "t", &back) == -1, "trailing garbage refused");
		ok(pgp_json_parse("{\"a\": [1, 2]}  \n", 15, "t", &back) == 0, "trailing white space fine");
		json_object_put(back);
	}
	return done_testing();
}
