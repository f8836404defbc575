/*
 * PostgreSQL's backup_manifest (versions 1 and 2; 2, from PostgreSQL 17,
 * adds System-Identifier), read as pg_verifybackup reads it
 * (src/common/parse_manifest.c), and a verifier that checks the files of
 * a base backup's tar archives against it as they stream past.
 *
 * The manifest is parsed incrementally (its text is never held whole,
 * only json-c's tree of it, then a compact table of files); its
 * Manifest-Checksum, the SHA-256 of the text up to and including the
 * newline before the last line, is checked exactly as PostgreSQL does.
 *
 * Nothing logs: parse errors are in pgm_parser_error(); the verifier
 * hands each problem to the caller's report function.
 */
#ifndef PGP_BACKUP_PGMANIFEST_H
#define PGP_BACKUP_PGMANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "tarstream.h"

enum pgm_algorithm { PGM_NONE, PGM_CRC32C, PGM_SHA224, PGM_SHA256, PGM_SHA384, PGM_SHA512 };
#define PGM_CHECKSUM_MAX 64

struct pgm_file {
	char *path;			/* decoded when the manifest has Encoded-Path */
	uint64_t size;
	enum pgm_algorithm algorithm;
	unsigned char checksum[PGM_CHECKSUM_MAX];	/* CRC32C: little-endian */
	size_t checksum_len;
};

struct pgm_wal_range {
	uint32_t tli;
	uint64_t start_lsn, end_lsn;
};

struct pgmanifest {
	int version;			/* 1 or 2 */
	int has_system_identifier;	/* version 2 */
	uint64_t system_identifier;
	struct pgm_file *files;
	size_t nfiles;
	struct pgm_wal_range *wal_ranges;
	size_t nwal_ranges;
	size_t *index;			/* private: hash table of files */
	size_t index_size;
};

/* "CRC32C", "SHA256"... ("NONE"); parse is case-insensitive as the server's. */
const char *pgm_algorithm_name(enum pgm_algorithm a);
int pgm_algorithm_parse(const char *name, enum pgm_algorithm *a);

/* Streamed parsing: feed the manifest's bytes as they arrive. */
struct pgm_parser;
struct pgm_parser *pgm_parser_new(void);
/* 0, or -1 (why in pgm_parser_error). */
int pgm_parser_feed(struct pgm_parser *p, const void *data, size_t len);
/* After the last byte: the manifest (free with pgmanifest_free), or NULL. */
struct pgmanifest *pgm_parser_finish(struct pgm_parser *p);
const char *pgm_parser_error(const struct pgm_parser *p);
void pgm_parser_free(struct pgm_parser *p);
/* The same over a manifest in memory: NULL with the reason in err. */
struct pgmanifest *pgmanifest_parse(const void *text, size_t len, char *err, size_t errsize);
void pgmanifest_free(struct pgmanifest *m);
/* The file of that path (relative to the data directory), or NULL. */
const struct pgm_file *pgmanifest_find(const struct pgmanifest *m, const char *path);

/*
 * Is a path (relative to the data directory) one pg_verifybackup never
 * expects in the manifest: backup_manifest, pg_wal/..., postgresql.auto.conf,
 * recovery.signal, standby.signal?
 */
int pgm_ignored(const char *path);

/*
 * The verifier.  With a manifest, each file's data is checksummed with
 * the manifest's algorithm for it and compared at the file's end.
 * Without one (m NULL: BASE_BACKUP sends the manifest after the
 * archives), each file's size and checksum in algorithm record are kept
 * (path and a few bytes per file, never data) and compared in
 * pgm_verifier_finish.  Each problem goes to report (path relative to
 * the data directory, and what is wrong); the count is finish's result.
 */
typedef void (*pgm_report_fn)(void *arg, const char *path, const char *problem);
struct pgm_verifier;
struct pgm_verifier *pgm_verifier_new(const struct pgmanifest *m, enum pgm_algorithm record,
				      pgm_report_fn report, void *arg);
/*
 * The next archive: its entries' names are under prefix in the manifest
 * ("" for base.tar, "pg_tblspc/16385" for 16385.tar).  0, or -1.
 */
int pgm_verifier_archive(struct pgm_verifier *v, const char *prefix);
/* Tar callbacks (arg: the verifier), to give tarstream_new. */
void pgm_verifier_tar_callbacks(struct tar_callbacks *cb);
/*
 * After the last archive: files of the manifest not seen are problems
 * too (unless ignored).  m: the manifest, when the verifier was made
 * without one (else NULL or the same).  The number of problems, or -1
 * (out of memory, libcrypto).
 */
long pgm_verifier_finish(struct pgm_verifier *v, const struct pgmanifest *m);
/* Files checked and bytes checksummed so far. */
void pgm_verifier_counts(const struct pgm_verifier *v, uint64_t *files, uint64_t *bytes);
void pgm_verifier_free(struct pgm_verifier *v);

#endif
