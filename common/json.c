/*
 * JSON helpers over json-c.
 */
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "json.h"
#include "log.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t need;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (avail < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* Reject overlong forms, surrogates and code points past U+10FFFF. */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return need;
}

char *
pgp_utf8_sanitize(const char *bytes, size_t len, size_t *out_len)
{
	/* Worst case: every byte becomes the 3-byte replacement character. */
	char *out = malloc(len * 3 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len((const unsigned char *) bytes + i, len - i);

		if (n == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, bytes + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

struct json_object *
pgp_json_string(const char *bytes, size_t len)
{
	size_t clean_len;
	char *clean = pgp_utf8_sanitize(bytes, len, &clean_len);
	struct json_object *obj;

	if (!clean)
		return NULL;
	obj = json_object_new_string_len(clean, (int) clean_len);
	free(clean);
	return obj;
}

struct json_object *
pgp_json_cstring(const char *s)
{
	return s ? pgp_json_string(s, strlen(s)) : NULL;
}

int
pgp_json_print(FILE *out, struct json_object *obj, int pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		(pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
	const char *text = json_object_to_json_string_ext(obj, flags);

	if (!text || fputs(text, out) == EOF || fputc('\n', out) == EOF)
		return pgp_fail("cannot write JSON output");
	return 0;
}

int
pgp_json_parse(const char *text, size_t len, const char *what, struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error err;
	size_t off, line = 1;

	if (!tok)
		return pgp_fail("out of memory");
	*out = json_tokener_parse_ex(tok, text, (int) len);
	err = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (*out && err == json_tokener_success) {
		/* Nothing but white space may follow the value. */
		for (; off < len; off++)
			if (!strchr(" \t\r\n", text[off]))
				break;
		if (off == len)
			return 0;
		json_object_put(*out);
		*out = NULL;
		err = json_tokener_error_parse_unexpected;
	} else if (err == json_tokener_continue)
		err = json_tokener_error_parse_eof;
	for (size_t i = 0; i < off && i < len; i++)
		line += text[i] == '\n';
	json_object_put(*out);
	*out = NULL;
	return pgp_fail("%s:%zu: invalid JSON: %s", what, line, json_tokener_error_desc(err));
}

int
pgp_json_read_file(const char *path, struct json_object **out)
{
	char *text;
	size_t len;
	int rc;

	if (pgp_read_file(path, &text, &len) < 0)
		return -1;
	rc = pgp_json_parse(text, len, path, out);
	free(text);
	return rc;
}
