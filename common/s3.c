/*
 * S3 over libcurl: see s3.h for what this adds to CURLOPT_AWS_SIGV4.
 */
#include <ctype.h>
#include <pthread.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "array.h"
#include "log.h"
#include "s3.h"

#define MIN_PART (5u * 1024 * 1024)
#define MAX_ERROR_BODY 65536
#define MAX_IN_FLIGHT 8
#define DEFAULT_IN_FLIGHT 2

struct pgp_s3 {
	struct pgp_s3_config cfg;
	char *endpoint, *region, *bucket, *access_key, *secret_key;
	CURL *curl;
	struct timespec deadline;	/* every request of the run ends by then */
	int unreachable;		/* the last failure: no answer from the endpoint */
	int grace;			/* an abort after a failure: a few seconds past the deadline */
};

/* Milliseconds left before the run's deadline (negative: past it). */
static long long
ms_left(const struct pgp_s3 *s3)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long) (s3->deadline.tv_sec - now.tv_sec) * 1000 +
		(s3->deadline.tv_nsec - now.tv_nsec) / 1000000 + (s3->grace ? 5000 : 0);
}

const char *
pgp_s3_endpoint(const struct pgp_s3 *s3)
{
	return s3->endpoint ? s3->endpoint : "AWS S3";
}

void
pgp_s3_grace(struct pgp_s3 *s3, int on)
{
	s3->grace = on;
}

int
pgp_s3_unreachable(const struct pgp_s3 *s3)
{
	return s3->unreachable;
}

/*
 * An upload keeps up to parts_in_flight parts on the wire, each on its own
 * handle in its own thread, while the caller fills the next buffer: the
 * dump never waits for the network unless the network is the slower of
 * the two, and a store-and-forward endpoint (a proxy that takes a whole
 * part before it passes it on, a server that writes it out before it
 * answers) works on one part while the next is on its way.  Each slot
 * keeps its buffer for the part after: parts_in_flight + 1 buffers at most.
 */
struct part_slot {
	struct pgp_s3_upload *up;
	pthread_t thread;
	CURL *curl;
	unsigned char *buf;		/* the part it sends (kept for the next) */
	size_t len, size;
	int number;			/* its part number */
	int busy;			/* a thread is sending it */
	int rc;
	char *etag;			/* the thread's answer, taken when joined */
};

struct pgp_s3_upload {
	struct pgp_s3 *s3;
	char *key;
	unsigned char *buf;		/* filling */
	size_t used, part_size, buf_size;
	char *upload_id;		/* NULL until the first full part */
	char **etags;			/* written by this thread only */
	int parts;
	int failed;
	struct part_slot slot[MAX_IN_FLIGHT];
	int nslots, next_slot;		/* slots are reused in turn: oldest first */
};

/* One request, and what came back. */
struct request {
	const char *method;
	const char *key;		/* NULL: the bucket itself */
	const char *query;		/* canonical already, or NULL */
	const void *body;
	size_t body_len;
	const char *content_type;
	int (*sink)(void *arg, const void *data, size_t len);
	void *sink_arg;
	/* out */
	long status;
	char etag[256];
	char *response;			/* body, when not sunk (NUL-terminated) */
	size_t response_len;
	int sunk;			/* bytes went to the sink: no retry */
	CURL *curl;
	int sink_failed;
};

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct pgp_s3 *
pgp_s3_open(const struct pgp_s3_config *cfg)
{
	struct pgp_s3 *s3 = calloc(1, sizeof(*s3));

	if (!s3)
		return NULL;
	s3->cfg = *cfg;
	s3->endpoint = dup_or_null(cfg->endpoint);
	s3->region = strdup(cfg->region ? cfg->region : "us-east-1");
	s3->bucket = strdup(cfg->bucket);
	s3->access_key = dup_or_null(cfg->access_key);
	s3->secret_key = dup_or_null(cfg->secret_key);
	if (s3->cfg.attempts < 1)
		s3->cfg.attempts = 4;
	if (s3->cfg.connect_timeout < 1)
		s3->cfg.connect_timeout = 10;
	if (s3->cfg.stall_timeout < 1)
		s3->cfg.stall_timeout = 60;
	if (s3->cfg.part_size < MIN_PART)
		s3->cfg.part_size = 8u * 1024 * 1024;
	if (s3->cfg.parts_in_flight < 1)
		s3->cfg.parts_in_flight = DEFAULT_IN_FLIGHT;
	if (s3->cfg.parts_in_flight > MAX_IN_FLIGHT)
		s3->cfg.parts_in_flight = MAX_IN_FLIGHT;
	if (s3->cfg.deadline < 1)
		s3->cfg.deadline = 21600;
	clock_gettime(CLOCK_MONOTONIC, &s3->deadline);
	s3->deadline.tv_sec += s3->cfg.deadline;
	s3->curl = curl_easy_init();
	if (!s3->curl || !s3->region || !s3->bucket) {
		pgp_s3_close(s3);
		pgp_error("cannot initialise libcurl");
		return NULL;
	}
	if (!s3->access_key || !s3->secret_key) {
		pgp_s3_close(s3);
		pgp_error("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
			  "or backup.s3_access_key_file and backup.s3_secret_key_file");
		return NULL;
	}
	return s3;
}

void
pgp_s3_close(struct pgp_s3 *s3)
{
	if (!s3)
		return;
	if (s3->curl)
		curl_easy_cleanup(s3->curl);
	if (s3->secret_key)
		explicit_bzero(s3->secret_key, strlen(s3->secret_key));
	free(s3->endpoint);
	free(s3->region);
	free(s3->bucket);
	free(s3->access_key);
	free(s3->secret_key);
	free(s3);
}

/* RFC 3986 percent-encoding; keep_slash for object keys in paths. */
static void
uri_encode(FILE *out, const char *s, int keep_slash)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
			fputc(c, out);
		else
			fprintf(out, "%%%02X", c);
	}
}

/* Path-style with a custom endpoint; virtual-hosted on AWS. */
static char *
make_url(const struct pgp_s3 *s3, const char *key, const char *query)
{
	char *url = NULL;
	size_t size;
	FILE *f = open_memstream(&url, &size);

	if (!f)
		return NULL;
	if (s3->endpoint) {
		size_t n = strlen(s3->endpoint);

		fprintf(f, "%.*s/", (int) (n && s3->endpoint[n - 1] == '/' ? n - 1 : n), s3->endpoint);
		uri_encode(f, s3->bucket, 0);
		fputc('/', f);
	} else
		fprintf(f, "https://%s.s3.%s.amazonaws.com/", s3->bucket, s3->region);
	if (key)
		uri_encode(f, key, 1);
	if (query)
		fprintf(f, "?%s", query);
	fclose(f);
	return url;
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256(data, len, d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct request *r = arg;
	size_t len = size * n;

	if (len > 5 && strncasecmp(buf, "ETag:", 5) == 0) {
		const char *v = buf + 5;
		size_t vl;

		while (*v == ' ')
			v++;
		vl = strcspn(v, "\r\n");
		if (vl < sizeof(r->etag)) {
			memcpy(r->etag, v, vl);
			r->etag[vl] = '\0';
		}
	}
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct request *r = arg;
	size_t len = size * n;

	/* The headers are in when the body starts: the status is known. */
	if (!r->status)
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
	/* Only a successful response goes to the sink; errors are kept. */
	if (r->sink && r->status >= 200 && r->status < 300) {
		r->sunk = 1;
		if (r->sink(r->sink_arg, data, len) < 0) {
			r->sink_failed = 1;
			return 0;
		}
		return len;
	}
	if (r->response_len + len > MAX_ERROR_BODY * 16)
		return len;	/* keep what we have; an S3 error body is small */
	{
		char *bigger = realloc(r->response, r->response_len + len + 1);

		if (!bigger)
			return 0;
		r->response = bigger;
		memcpy(r->response + r->response_len, data, len);
		r->response_len += len;
		r->response[r->response_len] = '\0';
	}
	return len;
}

/* The text of <tag>...</tag> in xml (first match), malloc'd, entities decoded. */
static char *
xml_value(const char *xml, const char *tag, const char **after)
{
	char open[64], close[64];
	const char *a, *b;
	char *out, *o;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (!xml || !(a = strstr(xml, open)))
		return NULL;
	a += strlen(open);
	if (!(b = strstr(a, close)))
		return NULL;
	if (after)
		*after = b + strlen(close);
	out = o = malloc((size_t) (b - a) + 1);
	if (!out)
		return NULL;
	while (a < b) {
		static const struct { const char *ent; char c; } ents[] = {
			{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}
		};
		int done = 0;

		for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]) && !done; i++) {
			size_t l = strlen(ents[i].ent);

			if ((size_t) (b - a) >= l && strncmp(a, ents[i].ent, l) == 0) {
				*o++ = ents[i].c;
				a += l;
				done = 1;
			}
		}
		if (!done)
			*o++ = *a++;
	}
	*o = '\0';
	return out;
}

static int
transient(CURLcode rc, long status)
{
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR ||
	    rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE ||
	    rc == CURLE_COULDNT_RESOLVE_HOST)
		return 1;
	return rc == CURLE_OK && (status >= 500 || status == 429 || status == 408);
}

/* One try of a request. */
static CURLcode
attempt(struct pgp_s3 *s3, CURL *c, struct request *r, char *errbuf)
{
	char hash[65], header[128], sigv4[128];
	struct curl_slist *headers = NULL;
	char *url = make_url(s3, r->key, r->query);
	CURLcode rc;

	if (!url)
		return CURLE_OUT_OF_MEMORY;
	free(r->response);
	r->response = NULL;
	r->response_len = 0;
	r->status = 0;
	r->etag[0] = '\0';
	curl_easy_reset(c);
	r->curl = c;
	errbuf[0] = '\0';
	sha256_hex(r->body ? r->body : "", r->body_len, hash);
	snprintf(header, sizeof(header), "x-amz-content-sha256: %s", hash);
	headers = curl_slist_append(headers, header);
	headers = curl_slist_append(headers, "Expect:");	/* no 100-continue round trip */
	if (r->content_type) {
		snprintf(header, sizeof(header), "Content-Type: %s", r->content_type);
		headers = curl_slist_append(headers, header);
	}
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s3->region);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key);
	curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_key);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s3->cfg.connect_timeout);
	/* Never hang: a transfer that moves nothing for this long fails. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s3->cfg.stall_timeout);
	/* ... and none outlives the run's deadline (backup.s3_timeout). */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) (ms_left(s3) > 1 ? ms_left(s3) : 1));
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (!strcmp(r->method, "GET"))
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) r->body_len);
	} else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(headers);
	free(url);
	return rc;
}

/*
 * A request with retries on transient failures.  0 when the status is
 * 2xx, else -1 after logging what S3 said (never a secret).
 */
static int
perform_on(struct pgp_s3 *s3, CURL *c, struct request *r, int quiet_status)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc = CURLE_OK;
	int past_deadline = 0;

	for (int i = 0; i < s3->cfg.attempts; i++) {
		if (i > 0) {
			long long pause = 250LL << (i - 1);

			pgp_debug("S3 %s %s: retrying (%s)", r->method, r->key ? r->key : "",
				  rc != CURLE_OK ? (*errbuf ? errbuf : curl_easy_strerror(rc)) : "server error");
			if (pause > ms_left(s3))
				pause = ms_left(s3) > 0 ? ms_left(s3) : 0;
			usleep((useconds_t) (pause * 1000));
		}
		if (ms_left(s3) <= 0) {
			past_deadline = 1;
			break;
		}
		rc = attempt(s3, c, r, errbuf);
		if (r->sink_failed)
			return -1;
		if (r->sunk || !transient(rc, r->status))
			break;
	}
	s3->unreachable = past_deadline || (rc != CURLE_OK && transient(rc, 0));
	if (past_deadline || (rc == CURLE_OPERATION_TIMEDOUT && ms_left(s3) <= 0)) {
		pgp_error("S3 endpoint %s: the run's deadline of %ld s (%s) passed during %s "
			  "s3://%s/%s", pgp_s3_endpoint(s3), s3->cfg.deadline,
			  s3->cfg.deadline_key ? s3->cfg.deadline_key : "backup.s3_timeout", r->method, s3->bucket,
			  r->key ? r->key : "");
		return -1;
	}
	if (rc != CURLE_OK) {
		pgp_error("S3 endpoint %s: %s s3://%s/%s: %s", pgp_s3_endpoint(s3), r->method, s3->bucket,
			  r->key ? r->key : "", *errbuf ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	if (r->status >= 200 && r->status < 300)
		return 0;
	if (r->status != quiet_status) {
		char *code = xml_value(r->response, "Code", NULL), *msg = xml_value(r->response, "Message", NULL);

		pgp_error("S3 %s s3://%s/%s: HTTP %ld%s%s%s%s", r->method, s3->bucket, r->key ? r->key : "",
			  r->status, code ? " " : "", code ? code : "", msg ? ": " : "", msg ? msg : "");
		free(code);
		free(msg);
	}
	return -1;
}

static int
perform(struct pgp_s3 *s3, struct request *r, int quiet_status)
{
	return perform_on(s3, s3->curl, r, quiet_status);
}

static void
request_done(struct request *r)
{
	free(r->response);
	r->response = NULL;
}

int
pgp_s3_put(struct pgp_s3 *s3, const char *key, const void *data, size_t len)
{
	struct request r = {.method = "PUT", .key = key, .body = data, .body_len = len,
			    .content_type = "application/octet-stream"};
	int rc = perform(s3, &r, 0);

	request_done(&r);
	return rc;
}

int
pgp_s3_get(struct pgp_s3 *s3, const char *key, int (*sink)(void *, const void *, size_t), void *arg)
{
	struct request r = {.method = "GET", .key = key, .sink = sink, .sink_arg = arg};
	int rc = perform(s3, &r, 404);

	if (rc < 0 && r.status == 404)
		rc = 1;
	request_done(&r);
	return rc;
}

int
pgp_s3_delete(struct pgp_s3 *s3, const char *key)
{
	struct request r = {.method = "DELETE", .key = key};
	int rc = perform(s3, &r, 0);

	request_done(&r);
	return rc;
}

struct pgp_s3_upload *
pgp_s3_upload_begin(struct pgp_s3 *s3, const char *key)
{
	struct pgp_s3_upload *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	up->s3 = s3;
	up->key = strdup(key);
	up->part_size = up->buf_size = s3->cfg.part_size;
	up->nslots = s3->cfg.parts_in_flight;
	up->buf = malloc(up->part_size);
	if (!up->key || !up->buf) {
		free(up->key);
		free(up->buf);
		free(up);
		pgp_error("out of memory for an S3 upload buffer");
		return NULL;
	}
	return up;
}

static int
start_multipart(struct pgp_s3_upload *up)
{
	struct request r = {.method = "POST", .key = up->key, .query = "uploads="};
	int rc = perform(up->s3, &r, 0);

	if (rc == 0) {
		up->upload_id = xml_value(r.response, "UploadId", NULL);
		if (!up->upload_id)
			rc = pgp_fail("S3 POST s3://%s/%s?uploads: no UploadId in the answer", up->s3->bucket, up->key);
	}
	request_done(&r);
	return rc;
}

static char *
upload_query(const struct pgp_s3_upload *up, int part)
{
	char *q = NULL;
	size_t size;
	FILE *f = open_memstream(&q, &size);

	if (!f)
		return NULL;
	if (part)
		fprintf(f, "partNumber=%d&", part);
	fputs("uploadId=", f);
	uri_encode(f, up->upload_id, 0);
	fclose(f);
	return q;
}

/* Send one part on handle c; its ETag (malloc'd) into *etag. */
static int
put_part(struct pgp_s3_upload *up, CURL *c, int number, const unsigned char *data, size_t len, char **etag)
{
	char *query = upload_query(up, number);
	struct request r = {.method = "PUT", .key = up->key, .body = data, .body_len = len};
	int rc;

	if (!query)
		return pgp_fail("out of memory");
	r.query = query;
	rc = perform_on(up->s3, c, &r, 0);
	if (rc == 0 && !*r.etag)
		rc = pgp_fail("S3 PUT part %d of s3://%s/%s: no ETag in the answer", number,
			      up->s3->bucket, up->key);
	if (rc == 0 && !(*etag = strdup(r.etag)))
		rc = pgp_fail("out of memory");
	request_done(&r);
	free(query);
	return rc;
}

static void *
part_thread(void *arg)
{
	struct part_slot *sl = arg;

	sl->rc = put_part(sl->up, sl->curl, sl->number, sl->buf, sl->len, &sl->etag);
	return NULL;
}

/* Wait for the slot's part, if one is in flight; its ETag into up->etags. */
static int
slot_wait(struct pgp_s3_upload *up, struct part_slot *sl)
{
	if (!sl->busy)
		return 0;
	pthread_join(sl->thread, NULL);
	sl->busy = 0;
	if (sl->rc == 0) {
		up->etags[sl->number - 1] = sl->etag;
		sl->etag = NULL;
	}
	return sl->rc;
}

/* Wait for every part in flight, oldest first: 0, or -1 when one failed. */
static int
wait_parts(struct pgp_s3_upload *up)
{
	int rc = 0;

	for (int i = 0; i < up->nslots; i++)
		if (slot_wait(up, &up->slot[(up->next_slot + i) % up->nslots]) < 0)
			rc = -1;
	return rc;
}

/*
 * Hand the filled buffer to the next slot's thread (once that slot's last
 * part is done) and fill that slot's old buffer meanwhile.
 */
static int
send_part(struct pgp_s3_upload *up)
{
	struct part_slot *sl = &up->slot[up->next_slot];
	unsigned char *free_buf;
	size_t free_size;
	char **etags;

	if (slot_wait(up, sl) < 0)
		return -1;
	if (!up->upload_id && start_multipart(up) < 0)
		return -1;
	etags = realloc(up->etags, sizeof(*etags) * (size_t) (up->parts + 1));
	if (!etags)
		return pgp_fail("out of memory");
	up->etags = etags;
	up->etags[up->parts] = NULL;
	if (!sl->curl && !(sl->curl = curl_easy_init()))
		return pgp_fail("cannot initialise libcurl");
	/* 10,000 parts at most: grow the parts of very large streams. */
	if ((up->parts + 1) % 1000 == 0 && up->part_size < 512u * 1024 * 1024)
		up->part_size *= 2;
	free_buf = sl->buf;
	free_size = sl->size;
	if (free_size < up->part_size) {
		free(free_buf);
		free_buf = malloc(up->part_size);
		free_size = up->part_size;
		sl->buf = NULL;
		sl->size = 0;
		if (!free_buf)
			return pgp_fail("out of memory for an S3 part buffer");
	}
	sl->up = up;
	sl->buf = up->buf;
	sl->size = up->buf_size;
	sl->len = up->used;
	sl->number = ++up->parts;
	up->buf = free_buf;
	up->buf_size = free_size;
	up->used = 0;
	up->next_slot = (up->next_slot + 1) % up->nslots;
	sl->busy = 1;
	if (pthread_create(&sl->thread, NULL, part_thread, sl) != 0) {
		/* No thread to be had: send it here. */
		sl->busy = 0;
		sl->rc = put_part(up, sl->curl, sl->number, sl->buf, sl->len, &up->etags[sl->number - 1]);
		return sl->rc;
	}
	return 0;
}

int
pgp_s3_upload_write(struct pgp_s3_upload *up, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (up->failed)
		return -1;
	while (len > 0) {
		size_t n = up->part_size - up->used;

		if (n > len)
			n = len;
		memcpy(up->buf + up->used, p, n);
		up->used += n;
		p += n;
		len -= n;
		if (up->used == up->part_size && send_part(up) < 0) {
			up->failed = 1;
			return -1;
		}
	}
	return 0;
}

static void
upload_free(struct pgp_s3_upload *up)
{
	wait_parts(up);
	for (int i = 0; i < up->parts; i++)
		free(up->etags[i]);
	for (int i = 0; i < up->nslots; i++) {
		free(up->slot[i].buf);
		free(up->slot[i].etag);
		if (up->slot[i].curl)
			curl_easy_cleanup(up->slot[i].curl);
	}
	free(up->etags);
	free(up->upload_id);
	free(up->buf);
	free(up->key);
	free(up);
}

void
pgp_s3_upload_abort(struct pgp_s3_upload *up)
{
	if (!up)
		return;
	wait_parts(up);
	if (up->upload_id) {
		char *query = upload_query(up, 0);
		struct request r = {.method = "DELETE", .key = up->key, .query = query};
		int saved = up->s3->cfg.attempts;

		/* One try, a few seconds even past the deadline: the upload already
		 * failed, and an uncompleted upload is no object. */
		up->s3->cfg.attempts = 1;
		up->s3->grace = 1;
		if (query && perform(up->s3, &r, 0) < 0)
			pgp_warning("could not abort the multipart upload of s3://%s/%s (HTTP %ld); "
				    "it is not an object, and a bucket lifecycle rule can remove it",
				    up->s3->bucket, up->key, r.status);
		up->s3->cfg.attempts = saved;
		up->s3->grace = 0;
		request_done(&r);
		free(query);
	}
	upload_free(up);
}

int
pgp_s3_upload_finish(struct pgp_s3_upload *up)
{
	char *xml = NULL, *query;
	size_t size;
	FILE *f;
	int rc;

	if (up->failed || wait_parts(up) < 0) {
		pgp_s3_upload_abort(up);
		return -1;
	}
	/* Small enough for one request: no multipart at all. */
	if (!up->upload_id) {
		rc = pgp_s3_put(up->s3, up->key, up->buf, up->used);
		upload_free(up);
		return rc;
	}
	if (up->used > 0 && send_part(up) < 0) {
		pgp_s3_upload_abort(up);
		return -1;
	}
	if (wait_parts(up) < 0) {
		pgp_s3_upload_abort(up);
		return -1;
	}
	f = open_memstream(&xml, &size);
	query = upload_query(up, 0);
	if (!f || !query) {
		if (f)
			fclose(f);
		free(xml);
		free(query);
		pgp_s3_upload_abort(up);
		return pgp_fail("out of memory");
	}
	fputs("<CompleteMultipartUpload>", f);
	for (int i = 0; i < up->parts; i++)
		fprintf(f, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1, up->etags[i]);
	fputs("</CompleteMultipartUpload>", f);
	fclose(f);
	{
		struct request r = {.method = "POST", .key = up->key, .query = query, .body = xml,
				    .body_len = strlen(xml), .content_type = "application/xml"};

		rc = perform(up->s3, &r, 0);
		/* S3 can answer 200 with an error inside. */
		if (rc == 0 && r.response && strstr(r.response, "<Error>")) {
			char *msg = xml_value(r.response, "Message", NULL);

			rc = pgp_fail("S3 complete s3://%s/%s: %s", up->s3->bucket, up->key, msg ? msg : "error");
			free(msg);
		}
		request_done(&r);
	}
	free(xml);
	free(query);
	if (rc < 0) {
		pgp_s3_upload_abort(up);
		return -1;
	}
	upload_free(up);
	return 0;
}

int
pgp_s3_list(struct pgp_s3 *s3, const char *prefix, struct pgp_s3_object **objects, size_t *count)
{
	char *token = NULL;
	size_t n = 0, cap = 0;
	struct pgp_s3_object *list = NULL;
	int rc = 0;

	do {
		char *query = NULL;
		size_t qs;
		FILE *f = open_memstream(&query, &qs);
		struct request r = {.method = "GET"};
		const char *p;
		char *truncated;

		if (!f) {
			rc = pgp_fail("out of memory");
			break;
		}
		/* Parameters sorted by name, values encoded: libcurl signs them as sent. */
		if (token) {
			fputs("continuation-token=", f);
			uri_encode(f, token, 0);
			fputc('&', f);
		}
		fputs("list-type=2&prefix=", f);
		uri_encode(f, prefix, 0);
		fclose(f);
		r.query = query;
		rc = perform(s3, &r, 0);
		free(query);
		free(token);
		token = NULL;
		if (rc < 0) {
			request_done(&r);
			break;
		}
		for (p = r.response; p && (p = strstr(p, "<Contents>"));) {
			const char *end = strstr(p, "</Contents>");
			char *key = xml_value(p, "Key", NULL), *sz = xml_value(p, "Size", NULL);

			if (!end || !key) {
				free(key);
				free(sz);
				break;
			}
			if (pgp_array_reserve(&list, n, &cap, sizeof(*list)) < 0) {
				free(key);
				free(sz);
				rc = -1;
				break;
			}
			list[n].key = key;
			list[n++].size = sz ? strtoull(sz, NULL, 10) : 0;
			free(sz);
			p = end;
		}
		truncated = xml_value(r.response, "IsTruncated", NULL);
		if (rc == 0 && truncated && !strcmp(truncated, "true"))
			token = xml_value(r.response, "NextContinuationToken", NULL);
		free(truncated);
		request_done(&r);
	} while (token && rc == 0);
	free(token);
	if (rc < 0) {
		pgp_s3_objects_free(list, n);
		return -1;
	}
	*objects = list;
	*count = n;
	return 0;
}

void
pgp_s3_objects_free(struct pgp_s3_object *objects, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(objects[i].key);
	free(objects);
}

int
pgp_s3_parse_url(const char *url, char **bucket, char **prefix)
{
	const char *b, *slash;

	if (strncmp(url, "s3://", 5) != 0 || !url[5])
		return -1;
	b = url + 5;
	slash = strchr(b, '/');
	*bucket = slash ? strndup(b, (size_t) (slash - b)) : strdup(b);
	*prefix = strdup(slash ? slash + 1 : "");
	if (!*bucket || !*prefix || !**bucket) {
		free(*bucket);
		free(*prefix);
		return -1;
	}
	/* No trailing slash: keys are joined as prefix/name. */
	if (**prefix && (*prefix)[strlen(*prefix) - 1] == '/')
		(*prefix)[strlen(*prefix) - 1] = '\0';
	return 0;
}
