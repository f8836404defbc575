/*
 * Reading manifest.json.  A manifest is trusted only once every field a
 * reader uses has the right type and a sane value, its id and database are
 * those of the directory it sits in, and its objects have allowed names:
 * anything else is "unreadable", which the callers report and never act
 * on (prune deletes nothing of such a backup, restore applies nothing).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "age.h"
#include "manifest.h"

/*
 * Every object pgp writes, and nothing else (later formats extend this):
 * each compression has its own names, so an object says how it is stored.
 */
static const struct object_name object_names[] = {
	{"dump.pgdump.zst", OBJECT_DUMP, "zstd", 0},
	{"globals.sql.zst", OBJECT_GLOBALS, "zstd", 0},
	{"dump.pgdump.gz", OBJECT_DUMP, "gzip", 0},
	{"globals.sql.gz", OBJECT_GLOBALS, "gzip", 0},
	{"dump.pgdump", OBJECT_DUMP, "none", 0},
	{"globals.sql", OBJECT_GLOBALS, "none", 0},
	{"dump.pgdump.zst.age", OBJECT_DUMP, "zstd", 1},
	{"globals.sql.zst.age", OBJECT_GLOBALS, "zstd", 1},
	{"dump.pgdump.gz.age", OBJECT_DUMP, "gzip", 1},
	{"globals.sql.gz.age", OBJECT_GLOBALS, "gzip", 1},
	{"dump.pgdump.age", OBJECT_DUMP, "none", 1},
	{"globals.sql.age", OBJECT_GLOBALS, "none", 1},
	{"contents.json.age", OBJECT_CONTENTS, NULL, 1},
};

const struct object_name *
manifest_object_for(enum object_kind kind, const char *compression, int encrypted)
{
	for (size_t i = 0; i < sizeof(object_names) / sizeof(object_names[0]); i++) {
		const struct object_name *o = &object_names[i];

		if (o->kind == kind && o->encrypted == encrypted &&
		    (!o->compression || !strcmp(o->compression, compression)))
			return o;
	}
	return NULL;
}

const struct object_name *
manifest_object_name(const char *name)
{
	for (size_t i = 0; i < sizeof(object_names) / sizeof(object_names[0]); i++)
		if (!strcmp(object_names[i].name, name))
			return &object_names[i];
	return NULL;
}

time_t
manifest_id_time(const char *id)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (strlen(id) != 16 || !(end = strptime(id, "%Y%m%dT%H%M%SZ", &tm)) || *end)
		return (time_t) -1;
	for (int i = 0; i < 16; i++)
		if (i == 8 ? id[i] != 'T' : i == 15 ? id[i] != 'Z' : (id[i] < '0' || id[i] > '9'))
			return (time_t) -1;
	return timegm(&tm);
}

static int
reason(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

static void clear_tables(struct manifest *m);

/* A string field without NUL or newline that fits size; else -1 with a reason. */
static int
get_text(struct json_object *o, const char *key, char *buf, size_t size, int nullable, int lines_ok,
	 char *why, size_t whysize);

/* A string field without NUL or line break (a name pgp uses as is). */
static int
get_string(struct json_object *o, const char *key, char *buf, size_t size, int nullable, char *why,
	   size_t whysize)
{
	return get_text(o, key, buf, size, nullable, 0, why, whysize);
}

/* A string field without NUL; line breaks too when lines_ok (a table's name may hold one). */
static int
get_text(struct json_object *o, const char *key, char *buf, size_t size, int nullable, int lines_ok,
	 char *why, size_t whysize)
{
	struct json_object *v;
	const char *s;
	int len;

	if (!json_object_object_get_ex(o, key, &v))
		return reason(why, whysize, "\"%s\" is missing", key);
	if (!v && nullable) {
		buf[0] = '\0';
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return reason(why, whysize, "\"%s\" is not a string", key);
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if ((size_t) len != strlen(s) || (!lines_ok && (strchr(s, '\n') || strchr(s, '\r'))))
		return reason(why, whysize, "\"%s\" holds a NUL%s", key, lines_ok ? "" : " or a line break");
	if ((size_t) len >= size)
		return reason(why, whysize, "\"%s\" is too long", key);
	memcpy(buf, s, (size_t) len + 1);
	return 0;
}

static int
get_count(struct json_object *o, const char *key, long long *out, char *why, size_t whysize)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return reason(why, whysize, "\"%s\" is missing", key);
	if (!json_object_is_type(v, json_type_int))
		return reason(why, whysize, "\"%s\" is not an integer", key);
	/* json-c clamps what does not fit an int64 to INT64_MAX without a word:
	 * no real size or count comes near 2^60, so anything there is damage. */
	*out = json_object_get_int64(v);
	if (*out < 0 || *out >= MANIFEST_MAX_COUNT)
		return reason(why, whysize, "\"%s\" is out of range", key);
	return 0;
}

static int
is_sha256_hex(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static int
parse_object(struct json_object *o, size_t i, struct manifest *m, char *why, size_t whysize)
{
	struct manifest_object *obj = &m->objects[m->nobjects];
	char name[64], sub[200];
	long long v;

	if (!json_object_is_type(o, json_type_object))
		return reason(why, whysize, "objects[%zu] is not an object", i);
	if (get_string(o, "name", name, sizeof(name), 0, sub, sizeof(sub)) < 0)
		return reason(why, whysize, "objects[%zu]: %s", i, sub);
	obj->what = manifest_object_name(name);
	if (!obj->what)
		return reason(why, whysize, "objects[%zu]: \"%s\" is not an object pgp-backup writes", i, name);
	if (obj->what->compression && strcmp(obj->what->compression, m->compression) != 0)
		return reason(why, whysize, "objects[%zu]: %s does not match the compression \"%s\"", i,
			      name, m->compression);
	if (obj->what->encrypted != m->encrypted)
		return reason(why, whysize, "objects[%zu]: %s is %sencrypted, the manifest says %s", i, name,
			      obj->what->encrypted ? "" : "not ", m->encrypted ? "encrypted" : "not encrypted");
	for (size_t k = 0; k < m->nobjects; k++)
		if (m->objects[k].what == obj->what)
			return reason(why, whysize, "objects[%zu]: %s is listed twice", i, name);
	if (get_count(o, "size", &v, sub, sizeof(sub)) < 0)
		return reason(why, whysize, "objects[%zu]: %s", i, sub);
	obj->size = (unsigned long long) v;
	if (get_count(o, "raw_size", &v, sub, sizeof(sub)) < 0)
		return reason(why, whysize, "objects[%zu]: %s", i, sub);
	obj->raw_size = (unsigned long long) v;
	if (get_string(o, "sha256", obj->sha256, sizeof(obj->sha256), 0, sub, sizeof(sub)) < 0 ||
	    (!is_sha256_hex(obj->sha256) && snprintf(sub, sizeof(sub), "\"sha256\" is not 64 hex digits")))
		return reason(why, whysize, "objects[%zu]: %s", i, sub);
	m->size += obj->size;
	m->nobjects++;
	return 0;
}

static int
parse_objects(struct json_object *root, struct manifest *m, char *why, size_t whysize)
{
	struct json_object *objs;
	size_t n;

	if (!json_object_object_get_ex(root, "objects", &objs) || !json_object_is_type(objs, json_type_array))
		return reason(why, whysize, "\"objects\" is not an array");
	n = json_object_array_length(objs);
	if (n == 0 || n > MANIFEST_MAX_OBJECTS)
		return reason(why, whysize, "\"objects\" lists %zu objects", n);
	for (size_t i = 0; i < n; i++)
		if (parse_object(json_object_array_get_idx(objs, i), i, m, why, whysize) < 0)
			return -1;
	if (!manifest_find(m, OBJECT_DUMP))
		return reason(why, whysize, "\"objects\" has no dump");
	if (m->encrypted && !manifest_find(m, OBJECT_CONTENTS))
		return reason(why, whysize, "\"objects\" has no contents object (encrypted backup)");
	return 0;
}

static char *
dup_string(struct json_object *o, const char *key, char *why, size_t whysize, size_t i)
{
	char buf[1024], sub[200];
	char *s;

	/* PostgreSQL allows any character but NUL in a name. */
	if (get_text(o, key, buf, sizeof(buf), 0, 1, sub, sizeof(sub)) < 0) {
		reason(why, whysize, "tables[%zu]: %s", i, sub);
		return NULL;
	}
	s = strdup(buf);
	if (!s)
		reason(why, whysize, "out of memory");
	return s;
}

static int
parse_tables(struct json_object *root, struct manifest *m, char *why, size_t whysize)
{
	struct json_object *tables;
	size_t n;

	if (!json_object_object_get_ex(root, "tables", &tables) || !json_object_is_type(tables, json_type_array))
		return reason(why, whysize, "\"tables\" is not an array");
	m->have_tables = 1;
	n = json_object_array_length(tables);
	m->tables = calloc(n ? n : 1, sizeof(*m->tables));
	if (!m->tables)
		return reason(why, whysize, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tables, i);
		struct manifest_table *mt = &m->tables[i];
		char sub[200];

		if (!json_object_is_type(t, json_type_object))
			return reason(why, whysize, "tables[%zu] is not an object", i);
		m->ntables = i + 1;
		if (!(mt->schema = dup_string(t, "schema", why, whysize, i)) ||
		    !(mt->table = dup_string(t, "table", why, whysize, i)))
			return -1;
		if (get_count(t, "rows", &mt->rows, sub, sizeof(sub)) < 0)
			return reason(why, whysize, "tables[%zu]: %s", i, sub);
	}
	return 0;
}

/*
 * "encryption": absent or null for a backup stored in the clear, else the
 * format and the public keys it was encrypted to (an age stanza names no
 * recipient, so this is the only record of who can decrypt).
 */
static int
parse_encryption(struct json_object *root, struct manifest *m, char *why, size_t whysize)
{
	struct json_object *enc, *list;
	char format[64], sub[200];
	size_t n;

	if (!json_object_object_get_ex(root, "encryption", &enc) || !enc)
		return 0;
	if (!json_object_is_type(enc, json_type_object))
		return reason(why, whysize, "\"encryption\" is not an object");
	if (get_string(enc, "format", format, sizeof(format), 0, sub, sizeof(sub)) < 0)
		return reason(why, whysize, "\"encryption\": %s", sub);
	if (strcmp(format, MANIFEST_ENCRYPTION) != 0)
		return reason(why, whysize, "\"encryption\": unknown format \"%s\" (this pgp-backup reads %s)",
			      format, MANIFEST_ENCRYPTION);
	if (!json_object_object_get_ex(enc, "recipients", &list) || !json_object_is_type(list, json_type_array))
		return reason(why, whysize, "\"encryption\".\"recipients\" is not an array");
	n = json_object_array_length(list);
	if (n == 0 || n > MANIFEST_MAX_RECIPIENTS)
		return reason(why, whysize, "\"encryption\" lists %zu recipients", n);
	m->recipients = calloc(n, sizeof(*m->recipients));
	if (!m->recipients)
		return reason(why, whysize, "out of memory");
	m->encrypted = 1;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(list, i);
		struct pgp_age_recipient key;

		if (!json_object_is_type(r, json_type_string) ||
		    json_object_get_string_len(r) >= (int) sizeof(m->recipients[0]) ||
		    pgp_age_recipient_parse(json_object_get_string(r), &key) < 0)
			return reason(why, whysize, "\"encryption\".\"recipients\"[%zu] is not an age public key", i);
		snprintf(m->recipients[i], sizeof(m->recipients[i]), "%s", json_object_get_string(r));
		m->nrecipients = i + 1;
	}
	return 0;
}

static int
parse_header(struct json_object *root, const char *database, const char *id, struct manifest *m, char *why,
	     size_t whysize)
{
	struct json_object *comp, *level;
	char format[32], status[16];

	if (get_string(root, "format", format, sizeof(format), 0, why, whysize) < 0)
		return -1;
	if (strcmp(format, MANIFEST_FORMAT) != 0)
		return reason(why, whysize, "unknown format \"%s\" (this pgp-backup reads %s)", format,
			      MANIFEST_FORMAT);
	if (get_string(root, "id", m->id, sizeof(m->id), 0, why, whysize) < 0 ||
	    get_string(root, "database", m->database, sizeof(m->database), 0, why, whysize) < 0 ||
	    get_string(root, "server_version", m->server_version, sizeof(m->server_version), 0, why, whysize) < 0 ||
	    get_string(root, "role", m->role, sizeof(m->role), 1, why, whysize) < 0 ||
	    get_string(root, "status", status, sizeof(status), 0, why, whysize) < 0)
		return -1;
	if (strcmp(m->id, id) != 0)
		return reason(why, whysize, "it names backup \"%s\", not the directory's %s", m->id, id);
	if (strcmp(m->database, database) != 0)
		return reason(why, whysize, "it names database \"%s\", not the directory's %s", m->database,
			      database);
	if (!strcmp(status, "ok"))
		m->status = MANIFEST_OK;
	else if (!strcmp(status, "failed"))
		m->status = MANIFEST_FAILED;
	else
		return reason(why, whysize, "unknown status \"%s\"", status);
	if (!json_object_object_get_ex(root, "compression", &comp) || !json_object_is_type(comp, json_type_object))
		return reason(why, whysize, "\"compression\" is not an object");
	if (get_string(comp, "algorithm", m->compression, sizeof(m->compression), 0, why, whysize) < 0)
		return -1;
	if (!json_object_object_get_ex(comp, "level", &level) || !json_object_is_type(level, json_type_int))
		return reason(why, whysize, "\"compression\".\"level\" is not an integer");
	m->compress_level = json_object_get_int(level);
	if (json_object_get_int64(level) < -131072 || json_object_get_int64(level) > 22)
		return reason(why, whysize, "\"compression\".\"level\" is out of range");
	return parse_encryption(root, m, why, whysize);
}

/* text as one JSON object, nothing after it: the root, or NULL with a reason. */
static struct json_object *
parse_json(const char *text, size_t len, size_t max, char *why, size_t whysize)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error err;

	if (len == 0) {
		reason(why, whysize, "it is empty");
		return NULL;
	}
	if (len > max || len > (size_t) 0x7fffffff) {
		reason(why, whysize, "it is too large (%zu bytes)", len);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		reason(why, whysize, "it holds a NUL byte");
		return NULL;
	}
	/* A manifest is three levels deep: anything deeper is not one. */
	tok = json_tokener_new_ex(8);
	if (!tok) {
		reason(why, whysize, "out of memory");
		return NULL;
	}
	root = json_tokener_parse_ex(tok, text, (int) len);
	err = json_tokener_get_error(tok);
	if (root && err == json_tokener_success && json_tokener_get_parse_end(tok) < len &&
	    strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") != len - json_tokener_get_parse_end(tok))
		err = json_tokener_error_parse_unexpected;
	json_tokener_free(tok);
	if (err == json_tokener_continue)
		err = json_tokener_error_parse_eof;
	if (err != json_tokener_success) {
		json_object_put(root);
		reason(why, whysize, "invalid JSON: %s", json_tokener_error_desc(err));
		return NULL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		reason(why, whysize, "it is not a JSON object");
		return NULL;
	}
	return root;
}

int
manifest_parse(const char *text, size_t len, const char *database, const char *id, struct manifest *out,
	       char *why, size_t whysize)
{
	struct json_object *root;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	root = parse_json(text, len, MANIFEST_MAX_BYTES, why, whysize);
	if (!root)
		return -1;
	/* An encrypted backup's tables are in its contents object, read on restore. */
	if (parse_header(root, database, id, out, why, whysize) == 0 &&
	    parse_objects(root, out, why, whysize) == 0 &&
	    (out->encrypted || parse_tables(root, out, why, whysize) == 0))
		rc = 0;
	json_object_put(root);
	if (rc < 0)
		manifest_clear(out);
	return rc;
}

int
manifest_parse_contents(const char *text, size_t len, struct manifest *m, char *why, size_t whysize)
{
	struct json_object *root = parse_json(text, len, CONTENTS_MAX_BYTES, why, whysize);
	char format[64];
	int rc = -1;

	clear_tables(m);
	if (!root)
		return -1;
	if (get_string(root, "format", format, sizeof(format), 0, why, whysize) == 0) {
		if (strcmp(format, CONTENTS_FORMAT) != 0)
			reason(why, whysize, "unknown format \"%s\" (this pgp-backup reads %s)", format,
			       CONTENTS_FORMAT);
		else if (parse_tables(root, m, why, whysize) == 0)
			rc = 0;
	}
	json_object_put(root);
	if (rc < 0)
		clear_tables(m);
	return rc;
}

static void
clear_tables(struct manifest *m)
{
	for (size_t i = 0; i < m->ntables; i++) {
		free(m->tables[i].schema);
		free(m->tables[i].table);
	}
	free(m->tables);
	m->tables = NULL;
	m->ntables = 0;
	m->have_tables = 0;
}

void
manifest_clear(struct manifest *m)
{
	clear_tables(m);
	free(m->recipients);
	m->recipients = NULL;
	m->nrecipients = 0;
}

const struct manifest_object *
manifest_find(const struct manifest *m, enum object_kind kind)
{
	for (size_t i = 0; i < m->nobjects; i++)
		if (m->objects[i].what->kind == kind)
			return &m->objects[i];
	return NULL;
}
