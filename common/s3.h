/*
 * A small S3 client over libcurl's own SigV4 (CURLOPT_AWS_SIGV4): single
 * and multipart uploads from a stream, streamed downloads, listing and
 * deletion.  Works with AWS S3 (virtual-hosted) and S3-compatible stores
 * such as MinIO, DigitalOcean Spaces and GCS interoperability (a custom
 * endpoint implies path-style addressing).
 *
 * What libcurl does not do, this does: every request carries
 * x-amz-content-sha256 (the payload hash libcurl then signs), query
 * strings are sent canonical (sorted, RFC 3986 encoded), the HTTP status
 * of every request is checked (libcurl returns OK on a 403), transient
 * failures are retried, and every request has timeouts.
 */
#ifndef PGP_S3_H
#define PGP_S3_H

#include <stddef.h>

struct pgp_s3_config {
	const char *endpoint;		/* "http://127.0.0.1:9000"; NULL: AWS */
	const char *region;		/* "us-east-1" */
	const char *bucket;
	const char *access_key;
	const char *secret_key;
	int attempts;			/* tries per request (transient errors) */
	long connect_timeout;		/* seconds */
	long stall_timeout;		/* seconds without a byte moving */
	size_t part_size;		/* multipart part size, >= 5 MiB */
	int parts_in_flight;		/* parts uploading at once (0: 2; at most 8) */
	long deadline;			/* seconds from open for all requests (900) */
	const char *deadline_key;	/* the setting it came from, for messages */
};

struct pgp_s3;
struct pgp_s3_upload;

struct pgp_s3_object {
	char *key;
	unsigned long long size;
};

/* NULL after logging. */
struct pgp_s3 *pgp_s3_open(const struct pgp_s3_config *cfg);
void pgp_s3_close(struct pgp_s3 *s3);

/*
 * A streaming upload: bytes are buffered into parts; the object exists
 * only after pgp_s3_upload_finish succeeds.  Both finish and abort free
 * the upload.  An abort the endpoint refuses is logged, not fatal: an
 * uncompleted multipart upload is no object.
 */
struct pgp_s3_upload *pgp_s3_upload_begin(struct pgp_s3 *s3, const char *key);
int pgp_s3_upload_write(struct pgp_s3_upload *up, const void *data, size_t len);
int pgp_s3_upload_finish(struct pgp_s3_upload *up);
void pgp_s3_upload_abort(struct pgp_s3_upload *up);

/* One object from memory. */
int pgp_s3_put(struct pgp_s3 *s3, const char *key, const void *data, size_t len);

/*
 * Stream an object into sink (which returns 0, or -1 to stop).  Returns 0,
 * 1 when there is no such object, -1 on error (logged).
 */
int pgp_s3_get(struct pgp_s3 *s3, const char *key,
	       int (*sink)(void *arg, const void *data, size_t len), void *arg);

/* Every object under prefix; free with pgp_s3_objects_free.  0 or -1. */
int pgp_s3_list(struct pgp_s3 *s3, const char *prefix, struct pgp_s3_object **objects, size_t *count);
void pgp_s3_objects_free(struct pgp_s3_object *objects, size_t count);

int pgp_s3_delete(struct pgp_s3 *s3, const char *key);

/* Was the last failure the endpoint not answering (refused, timed out,
 * past the deadline), as opposed to an answer that said no? */
int pgp_s3_unreachable(const struct pgp_s3 *s3);
/* Cleanup after a failure (deleting what a failed run stored): while on,
 * requests get a few seconds past the run's deadline. */
void pgp_s3_grace(struct pgp_s3 *s3, int on);
/* The endpoint URL, for messages. */
const char *pgp_s3_endpoint(const struct pgp_s3 *s3);

/* "s3://bucket/prefix" into bucket and prefix (malloc'd); 0 or -1. */
int pgp_s3_parse_url(const char *url, char **bucket, char **prefix);

#endif
