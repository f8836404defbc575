/*
 * A backup's manifest.json, read in one place.  Every reader (list,
 * verify, restore, prune) gets a checked struct or a reason why the
 * manifest is unreadable; nobody else looks inside the JSON.  Object
 * names come from one table of allowed names, so a manifest can never
 * make pgp read or delete anything outside its own backup.
 */
#ifndef PGP_BACKUP_MANIFEST_H
#define PGP_BACKUP_MANIFEST_H

#include <stddef.h>
#include <time.h>

#define MANIFEST_FORMAT "pgp-backup/1"
#define MANIFEST_MAX_OBJECTS 8
#define MANIFEST_MAX_BYTES (64 * 1024 * 1024)	/* a manifest is small; refuse a huge one */
#define MANIFEST_MAX_COUNT (1LL << 60)		/* sizes and row counts stay below */
#define MANIFEST_MAX_RECIPIENTS 64
#define MANIFEST_ENCRYPTION "age-encryption.org/v1"
#define CONTENTS_FORMAT "pgp-backup-contents/1"
#define CONTENTS_MAX_BYTES (64 * 1024 * 1024)

/*
 * OBJECT_CONTENTS exists only in an encrypted backup: the table names and
 * row counts that an unencrypted manifest lists, in an object only the
 * identity opens, so that nothing about the data is readable from the
 * repository without it.
 */
enum object_kind { OBJECT_DUMP, OBJECT_GLOBALS, OBJECT_CONTENTS };

/* The names an object may have, with what it holds and how it is stored. */
struct object_name {
	const char *name;
	enum object_kind kind;
	const char *compression;	/* "zstd", "gzip" or "none"; NULL: never compressed */
	int encrypted;			/* an age file (.age) */
};
/* The table entry for name, or NULL when name is not an allowed object. */
const struct object_name *manifest_object_name(const char *name);
/* The name of kind stored with compression (ignored for contents), or NULL. */
const struct object_name *manifest_object_for(enum object_kind kind, const char *compression, int encrypted);

struct manifest_object {
	const struct object_name *what;	/* from the table: name, kind */
	unsigned long long size, raw_size;
	char sha256[65];
};

struct manifest_table {
	char *schema, *table;
	long long rows;
};

enum manifest_status { MANIFEST_OK, MANIFEST_FAILED };

struct manifest {
	char id[32], database[128];
	char server_version[64], role[128];	/* role "" when none */
	char compression[16];
	int compress_level;
	int encrypted;				/* objects are age files */
	char (*recipients)[64];			/* encrypted: the public keys (age1...) */
	size_t nrecipients;
	enum manifest_status status;
	struct manifest_object objects[MANIFEST_MAX_OBJECTS];
	size_t nobjects;
	struct manifest_table *tables;		/* encrypted: from the contents object */
	size_t ntables;
	int have_tables;			/* tables read (from the manifest or contents) */
	unsigned long long size;		/* stored bytes of all objects */
};

/*
 * Parse and check text as the manifest of backup id of database (the
 * directory it was found in).  0 with *out filled, or -1 with a one-line
 * reason in why (nothing logged, nothing allocated).
 */
int manifest_parse(const char *text, size_t len, const char *database, const char *id,
		   struct manifest *out, char *why, size_t whysize);
void manifest_clear(struct manifest *m);
/*
 * Parse an encrypted backup's contents object (decrypted text) into
 * m->tables: 0, or -1 with a reason in why.
 */
int manifest_parse_contents(const char *text, size_t len, struct manifest *m, char *why, size_t whysize);

/* The object of kind, or NULL. */
const struct manifest_object *manifest_find(const struct manifest *m, enum object_kind kind);

/* Is name a backup id (YYYYMMDDTHHMMSSZ)?  Its time, or -1. */
time_t manifest_id_time(const char *id);

#endif
