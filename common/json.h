/*
 * JSON in and out through json-c (Debian's libjson-c), never by hand.
 * Strings from the outside world (server messages, file names) can hold
 * any bytes; pgp_json_string makes them valid UTF-8 first, so the output
 * is always JSON that strict parsers accept.
 */
#ifndef PGP_JSON_H
#define PGP_JSON_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>

/* Copy bytes into valid UTF-8: each invalid byte becomes U+FFFD. */
char *pgp_utf8_sanitize(const char *bytes, size_t len, size_t *out_len);

/* A JSON string holding arbitrary bytes (see above); NULL bytes allowed. */
struct json_object *pgp_json_string(const char *bytes, size_t len);
/* Same for a C string; NULL gives JSON null. */
struct json_object *pgp_json_cstring(const char *s);

/* Print obj and a newline; pretty for people, compact for pipes.  0 or -1. */
int pgp_json_print(FILE *out, struct json_object *obj, int pretty);

/* Parse text; errors name what (a file name) and the line.  0 or -1 (logged). */
int pgp_json_parse(const char *text, size_t len, const char *what, struct json_object **out);
int pgp_json_read_file(const char *path, struct json_object **out);

#endif
