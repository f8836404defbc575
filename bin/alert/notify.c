/*
 * Notifications.  The state machine reads each check's track (state_track:
 * its state and for how many runs in a row) and the state last notified:
 * a new state is sent once it has held `confirm` runs, a still-bad one is
 * sent again after repeat_interval, a return to OK is sent (RESOLVED) only
 * when a problem had been sent; UNKNOWN is a state of its own.  What it
 * decides becomes events queued per channel in the target's state file
 * (t->outbox), so an event that cannot be delivered is sent again by the
 * next run, never lost silently.  Each channel gets one message per run
 * with every target's events:
 *
 *   webhook       Alertmanager's webhook payload (version 4), driven by the
 *                 state machine;
 *   slack         an incoming webhook: {"text": ..., "attachments": [...]};
 *   alertmanager  POST /api/v2/alerts: every firing alert on every run (it
 *                 dedupes, groups and repeats itself, and resolves what it
 *                 stops hearing of), endsAt=now when one resolves.
 *
 * Over libcurl with connect and total timeouts; 2xx is delivered, 5xx and
 * 429 (or no answer) are retried on the next run, other statuses are
 * refused for good and reported.  URLs and tokens are secrets: messages
 * show them masked (notify_mask_url) and anything libcurl or the receiver
 * says is scrubbed of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "alert.h"
#include "json.h"
#include "log.h"
#include "version.h"

/* Undelivered events kept per target and channel (the oldest go first). */
#define MAX_PENDING 100

static const char *const channel_names[NC_COUNT] = {"webhook", "slack", "alertmanager"};

const char *
notify_channel_name(enum notify_channel ch)
{
	return (int) ch >= 0 && ch < NC_COUNT ? channel_names[ch] : "?";
}

int
notify_channel_find(const char *name)
{
	for (int ch = 0; ch < NC_COUNT; ch++)
		if (strcasecmp(name, channel_names[ch]) == 0)
			return ch;
	return -1;
}

enum notify_reason
notify_decide(struct check_track *tr, int evaluated, int confirm, long long repeat_s, long long now,
	      enum alert_state *was)
{
	enum alert_state before = tr->notified;

	*was = before;
	if (!evaluated || !tr->known)
		return NR_NONE;
	if (confirm < 1)
		confirm = 1;
	if (tr->state != before) {
		/* Not yet held long enough (a flap that goes back sends nothing). */
		if (tr->count < confirm)
			return NR_NONE;
		tr->notified = tr->state;
		tr->notified_at = now;
		tr->notified_since = tr->since;
		if (tr->state == ST_OK)
			return NR_RESOLVED;
		return before == ST_OK ? NR_NEW : NR_CHANGED;
	}
	if (tr->state != ST_OK && repeat_s > 0 && now - tr->notified_at >= repeat_s) {
		tr->notified_at = now;
		return NR_REPEAT;
	}
	return NR_NONE;
}

int
notify_classify(long http_status, int transport_ok)
{
	if (!transport_ok)
		return 1;
	if (http_status >= 200 && http_status <= 299)
		return 0;
	if (http_status == 429 || http_status >= 500)
		return 1;
	return 2;
}

void
notify_alertname(const char *check, char *out, size_t size)
{
	size_t n = 0;
	int up = 1;

	if (size < 3) {
		if (size)
			*out = '\0';
		return;
	}
	out[n++] = 'P';
	out[n++] = 'g';
	for (const char *p = check; *p && n + 1 < size; p++) {
		if (*p == '_' || *p == '-' || *p == '.') {
			up = 1;
			continue;
		}
		out[n++] = up && *p >= 'a' && *p <= 'z' ? (char) (*p - 'a' + 'A') : *p;
		up = 0;
	}
	out[n] = '\0';
}

/* Where the authority of a URL starts and ends (after "scheme://"). */
static int
url_parts(const char *url, size_t *auth, size_t *auth_end)
{
	const char *p = strstr(url, "://");

	if (!p)
		return -1;
	*auth = (size_t) (p + 3 - url);
	*auth_end = *auth + strcspn(url + *auth, "/?#");
	return 0;
}

void
notify_mask_url(const char *url, char *out, size_t size)
{
	size_t a, e, host;

	if (!url || url_parts(url, &a, &e) < 0) {
		snprintf(out, size, "***");
		return;
	}
	host = a;
	for (size_t i = a; i < e; i++)
		if (url[i] == '@')
			host = i + 1;
	snprintf(out, size, "%.*s%.*s%s", (int) a, url, (int) (e - host), url + host,
		 url[e] && strcmp(url + e, "/") != 0 ? "/***" : "");
}

/* Replace every occurrence of needle (len >= 4) by "***", in place. */
static void
replace_all(char *text, const char *needle, size_t len)
{
	char *p;

	if (len < 4)
		return;
	while ((p = strstr(text, needle)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + len, strlen(p + len) + 1);
	}
}

void
notify_scrub(char *text, const char *secret)
{
	size_t a, e;
	char piece[4096];

	if (!text || !secret || !*secret)
		return;
	replace_all(text, secret, strlen(secret));
	if (url_parts(secret, &a, &e) < 0)
		return;
	/* The path and query hold a webhook's token; the user part a password. */
	if (secret[e] && strlen(secret + e) > 1)
		replace_all(text, secret + e, strlen(secret + e));
	for (size_t i = e; i > a; i--)
		if (secret[i - 1] == '@') {
			snprintf(piece, sizeof(piece), "%.*s", (int) (i - 1 - a), secret + a);
			replace_all(text, piece, strlen(piece));
			break;
		}
}

/* ---- events ----------------------------------------------------------------- */

/* The value of the item that decided the check's state ("" if none). */
static void
result_value(const struct check_result *r, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < r->n_items; i++) {
		const struct item *it = &r->items[i];

		if (it->hidden || !it->has_value || it->state != r->state || (it->info && it->state == ST_OK))
			continue;
		format_value(r->def, it->value, buf, size);
		return;
	}
}

static const char *
severity(enum alert_state s)
{
	return s == ST_CRITICAL ? "critical" : s == ST_WARNING ? "warning" : s == ST_UNKNOWN ? "unknown" : "none";
}

static const char *const reasons[] = {
	[NR_NONE] = "none", [NR_NEW] = "new", [NR_CHANGED] = "changed",
	[NR_REPEAT] = "repeat", [NR_RESOLVED] = "resolved"
};

/*
 * One event, the form kept in the state file and read by the payloads:
 *   {"target", "instance", "check", "status": "firing"|"resolved",
 *    "state", "previous", "reason", "text", "value", "startsAt", "endsAt", "at"}
 * (times in seconds since the epoch; endsAt 0 while firing).
 */
static struct json_object *
make_event(const struct alert_target *t, enum check_id id, const char *status, enum alert_state state,
	   enum alert_state previous, enum notify_reason reason, const char *text, const char *value,
	   long long starts, long long ends, long long at)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "target", pgp_json_cstring(t->name));
	json_object_object_add(e, "instance", pgp_json_cstring(t->instance));
	json_object_object_add(e, "check", json_object_new_string(check_defs[id].name));
	json_object_object_add(e, "status", json_object_new_string(status));
	json_object_object_add(e, "state", json_object_new_string(alert_state_name(state)));
	json_object_object_add(e, "previous", json_object_new_string(alert_state_name(previous)));
	json_object_object_add(e, "reason", json_object_new_string(reasons[reason]));
	json_object_object_add(e, "text", pgp_json_cstring(text ? text : ""));
	json_object_object_add(e, "value", pgp_json_cstring(value ? value : ""));
	json_object_object_add(e, "startsAt", json_object_new_int64(starts));
	json_object_object_add(e, "endsAt", json_object_new_int64(ends));
	json_object_object_add(e, "at", json_object_new_int64(at));
	return e;
}

static void
queue(struct alert_target *t, enum notify_channel ch, struct json_object *e)
{
	size_t n;
	int dropped = 0;

	json_object_array_add(t->outbox[ch], e);
	n = json_object_array_length(t->outbox[ch]);
	if (n > MAX_PENDING) {
		dropped = (int) (n - MAX_PENDING);
		json_object_array_del_idx(t->outbox[ch], 0, (size_t) dropped);
		pgp_warning("target \"%s\": %d undelivered %s notification%s dropped (at most %d are kept)", t->name,
			    dropped, channel_names[ch], dropped == 1 ? "" : "s", MAX_PENDING);
	}
}

void
notify_target(const struct alert_run *run, struct alert_target *t)
{
	const struct notify_conf *nc = &run->notify;

	if (!run->notifying)
		return;
	if (t->lock_fd < 0) {
		pgp_warning("target \"%s\": no state file held this run: its notifications wait for the next", t->name);
		return;
	}
	for (int id = 0; id < CK_COUNT; id++) {
		const struct check_result *r = &t->results[id];
		struct check_track *tr = &t->track[id];
		long long old_since = tr->notified_since;
		enum alert_state was;
		enum notify_reason why;
		char value[64];

		why = notify_decide(tr, !r->skip, t->conf[id].confirm, nc->repeat_s, (long long) run->now, &was);
		if (why == NR_NONE)
			continue;
		result_value(r, value, sizeof(value));
		if (why != NR_RESOLVED) {
			track_free(tr);
			tr->text = strdup(r->text);
			tr->value = strdup(value);
		}
		for (int ch = NC_WEBHOOK; ch <= NC_SLACK; ch++) {
			if (!nc->on[ch])
				continue;
			if (why == NR_RESOLVED)
				queue(t, (enum notify_channel) ch,
				      make_event(t, (enum check_id) id, "resolved", ST_OK, was, why, r->text, value,
						 old_since, (long long) run->now, (long long) run->now));
			else
				queue(t, (enum notify_channel) ch,
				      make_event(t, (enum check_id) id, "firing", tr->notified, was, why, r->text, value,
						 tr->notified_since, 0, (long long) run->now));
		}
		/* Alertmanager knows an alert by its labels, severity among them:
		 * the state that was notified ends when it resolves or changes. */
		if (nc->on[NC_ALERTMANAGER] && was != ST_OK && why != NR_REPEAT)
			queue(t, NC_ALERTMANAGER,
			      make_event(t, (enum check_id) id, "resolved", was, was, NR_RESOLVED, r->text, value,
					 old_since, (long long) run->now, (long long) run->now));
	}
}

/* ---- payloads --------------------------------------------------------------- */

static const char *
ev_str(struct json_object *e, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(e, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v) : "";
}

static long long
ev_int(struct json_object *e, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(e, key, &v) ? json_object_get_int64(v) : 0;
}

static int
firing(struct json_object *e)
{
	return strcmp(ev_str(e, "status"), "firing") == 0;
}

static struct json_object *
rfc3339(long long t)
{
	char buf[40];
	struct tm tm;
	time_t tt = (time_t) t;

	if (t <= 0 || !gmtime_r(&tt, &tm))
		return json_object_new_string("0001-01-01T00:00:00Z");
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

/* The state an event is about: a resolved one is about what it was. */
static const char *
ev_severity(struct json_object *e)
{
	const char *s = firing(e) ? ev_str(e, "state") : ev_str(e, "previous");

	for (int st = ST_WARNING; st <= ST_UNKNOWN; st++)
		if (strcmp(s, alert_state_name((enum alert_state) st)) == 0)
			return severity((enum alert_state) st);
	return "none";
}

/* Labels in name order: alertname, check, instance, severity, target. */
static struct json_object *
labels(struct json_object *e)
{
	struct json_object *l = json_object_new_object();
	char name[128];

	notify_alertname(ev_str(e, "check"), name, sizeof(name));
	json_object_object_add(l, "alertname", json_object_new_string(name));
	json_object_object_add(l, "check", pgp_json_cstring(ev_str(e, "check")));
	json_object_object_add(l, "instance", pgp_json_cstring(ev_str(e, "instance")));
	json_object_object_add(l, "severity", json_object_new_string(ev_severity(e)));
	json_object_object_add(l, "target", pgp_json_cstring(ev_str(e, "target")));
	return l;
}

static void
summary(struct json_object *e, char *buf, size_t size)
{
	if (firing(e))
		snprintf(buf, size, "%s: %s %s", ev_str(e, "target"), ev_str(e, "check"), ev_str(e, "state"));
	else
		snprintf(buf, size, "%s: %s RESOLVED (was %s)", ev_str(e, "target"), ev_str(e, "check"),
			 ev_str(e, "previous"));
}

static struct json_object *
annotations(struct json_object *e, int with_reason)
{
	struct json_object *a = json_object_new_object();
	char sum[600];

	summary(e, sum, sizeof(sum));
	json_object_object_add(a, "summary", pgp_json_cstring(sum));
	json_object_object_add(a, "description", pgp_json_cstring(ev_str(e, "text")));
	json_object_object_add(a, "value", pgp_json_cstring(ev_str(e, "value")));
	if (with_reason) {
		json_object_object_add(a, "reason", pgp_json_cstring(ev_str(e, "reason")));
		json_object_object_add(a, "previous_state", pgp_json_cstring(ev_str(e, "previous")));
	}
	return a;
}

/* FNV-1a over the sorted labels, as a stable hex fingerprint. */
static struct json_object *
fingerprint(struct json_object *l)
{
	unsigned long long h = 1469598103934665603ULL;
	char buf[20];

	json_object_object_foreach(l, k, v) {
		const char *s = json_object_get_string(v);

		for (const char *p = k; *p; p++)
			h = (h ^ (unsigned char) *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
		for (const char *p = s; *p; p++)
			h = (h ^ (unsigned char) *p) * 1099511628211ULL;
		h = (h ^ 0xfe) * 1099511628211ULL;
	}
	snprintf(buf, sizeof(buf), "%016llx", h);
	return json_object_new_string(buf);
}

/* Alertmanager's webhook payload, version 4. */
static struct json_object *
webhook_body(struct json_object *events)
{
	struct json_object *o = json_object_new_object(), *alerts = json_object_new_array(), *common = NULL;
	size_t n = json_object_array_length(events);
	int any_firing = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(events, i), *a = json_object_new_object();
		struct json_object *l = labels(e);

		any_firing |= firing(e);
		json_object_object_add(a, "status", json_object_new_string(firing(e) ? "firing" : "resolved"));
		json_object_object_add(a, "labels", l);
		json_object_object_add(a, "annotations", annotations(e, 1));
		json_object_object_add(a, "startsAt", rfc3339(ev_int(e, "startsAt")));
		json_object_object_add(a, "endsAt", rfc3339(ev_int(e, "endsAt")));
		json_object_object_add(a, "generatorURL", json_object_new_string(""));
		json_object_object_add(a, "fingerprint", fingerprint(l));
		json_object_array_add(alerts, a);
		/* The labels every alert shares. */
		if (!common)
			json_object_deep_copy(l, &common, NULL);
		else {
			struct json_object *keep = json_object_new_object();

			json_object_object_foreach(common, k, v) {
				struct json_object *w;

				if (json_object_object_get_ex(l, k, &w) &&
				    strcmp(json_object_get_string(v), json_object_get_string(w)) == 0)
					json_object_object_add(keep, k, json_object_get(v));
			}
			json_object_put(common);
			common = keep;
		}
	}
	json_object_object_add(o, "version", json_object_new_string("4"));
	json_object_object_add(o, "groupKey", json_object_new_string("pgp-alert"));
	json_object_object_add(o, "truncatedAlerts", json_object_new_int(0));
	json_object_object_add(o, "status", json_object_new_string(any_firing ? "firing" : "resolved"));
	json_object_object_add(o, "receiver", json_object_new_string("pgp-alert"));
	json_object_object_add(o, "groupLabels", json_object_new_object());
	json_object_object_add(o, "commonLabels", common ? common : json_object_new_object());
	json_object_object_add(o, "commonAnnotations", json_object_new_object());
	json_object_object_add(o, "externalURL", json_object_new_string(""));
	json_object_object_add(o, "alerts", alerts);
	return o;
}

/* Slack's text wants &, < and > escaped. */
static void
slack_escape(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = in; *p && n + 6 < size; p++) {
		const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;

		if (rep) {
			memcpy(out + n, rep, strlen(rep));
			n += strlen(rep);
		} else
			out[n++] = *p;
	}
	out[n] = '\0';
}

static struct json_object *
slack_body(struct json_object *events)
{
	struct json_object *o = json_object_new_object(), *atts = json_object_new_array();
	size_t n = json_object_array_length(events);
	char text[3000], piece[700], esc[1400];
	int nf = 0, nr = 0;
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		firing(json_object_array_get_idx(events, i)) ? nf++ : nr++;
	if (nf && nr)
		len = (size_t) snprintf(text, sizeof(text), "[FIRING:%d, RESOLVED:%d] pgp-alert:", nf, nr);
	else
		len = (size_t) snprintf(text, sizeof(text), "[%s:%d] pgp-alert:", nf ? "FIRING" : "RESOLVED", nf ? nf : nr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(events, i), *a = json_object_new_object();
		struct json_object *fields = json_object_new_array(), *f;
		const char *st = ev_str(e, "state");

		summary(e, piece, sizeof(piece));
		slack_escape(piece, esc, sizeof(esc));
		if (len + strlen(esc) + 3 < sizeof(text))
			len += (size_t) snprintf(text + len, sizeof(text) - len, "%s %s", i ? "," : "", esc);
		json_object_object_add(a, "color", json_object_new_string(!firing(e) ? "good"
					: !strcmp(st, "CRITICAL") ? "danger" : !strcmp(st, "WARNING") ? "warning" : "#808080"));
		json_object_object_add(a, "title", pgp_json_cstring(esc));
		slack_escape(ev_str(e, "text"), esc, sizeof(esc));
		json_object_object_add(a, "text", pgp_json_cstring(esc));
		snprintf(piece, sizeof(piece), "%s: %s", ev_str(e, "check"), ev_str(e, "text"));
		json_object_object_add(a, "fallback", pgp_json_cstring(piece));
		if (*ev_str(e, "value")) {
			f = json_object_new_object();
			json_object_object_add(f, "title", json_object_new_string("value"));
			json_object_object_add(f, "value", pgp_json_cstring(ev_str(e, "value")));
			json_object_object_add(f, "short", json_object_new_boolean(1));
			json_object_array_add(fields, f);
		}
		f = json_object_new_object();
		json_object_object_add(f, "title", json_object_new_string("instance"));
		json_object_object_add(f, "value", pgp_json_cstring(ev_str(e, "instance")));
		json_object_object_add(f, "short", json_object_new_boolean(1));
		json_object_array_add(fields, f);
		json_object_object_add(a, "fields", fields);
		json_object_object_add(a, "footer", json_object_new_string("pgp-alert"));
		json_object_object_add(a, "ts", json_object_new_int64(ev_int(e, "at")));
		json_object_array_add(atts, a);
	}
	json_object_object_add(o, "text", pgp_json_cstring(text));
	json_object_object_add(o, "attachments", atts);
	return o;
}

/* POST /api/v2/alerts: [{labels, annotations, startsAt, endsAt}]. */
static struct json_object *
alertmanager_body(struct json_object *events)
{
	struct json_object *o = json_object_new_array();
	size_t n = json_object_array_length(events);

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(events, i), *a = json_object_new_object();

		json_object_object_add(a, "labels", labels(e));
		json_object_object_add(a, "annotations", annotations(e, 0));
		json_object_object_add(a, "startsAt", rfc3339(ev_int(e, "startsAt")));
		/* Firing: no endsAt, Alertmanager resolves it after its
		 * resolve_timeout unless the next run sends it again. */
		if (!firing(e))
			json_object_object_add(a, "endsAt", rfc3339(ev_int(e, "endsAt")));
		json_object_array_add(o, a);
	}
	return o;
}

char *
notify_payload(enum notify_channel ch, struct json_object *events, time_t now)
{
	struct json_object *o;
	char *text;

	(void) now;
	o = ch == NC_WEBHOOK ? webhook_body(events) : ch == NC_SLACK ? slack_body(events) : alertmanager_body(events);
	text = o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) : NULL;
	json_object_put(o);
	return text;
}

/* ---- delivery --------------------------------------------------------------- */

struct answer {
	char text[400];
	size_t len;
};

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t len = size * n;

	for (size_t i = 0; i < len && a->len + 1 < sizeof(a->text); i++)
		a->text[a->len++] = p[i] == '\n' || p[i] == '\r' ? ' ' : p[i];
	a->text[a->len] = '\0';
	return len;
}

static void
scrub_all(const struct notify_conf *nc, char *text)
{
	for (int ch = 0; ch < NC_COUNT; ch++)
		notify_scrub(text, nc->url[ch]);
	notify_scrub(text, nc->token);
}

/* POST the body; 0 delivered, 1 retry, 2 refused (why says it, scrubbed). */
static int
post(const struct notify_conf *nc, enum notify_channel ch, const char *body, char *why, size_t whysize)
{
	CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL;
	struct curl_slist *headers = NULL;
	struct answer answer = {"", 0};
	long status = 0;
	CURLcode rc;
	int result;

	why[0] = '\0';
	if (!c) {
		snprintf(why, whysize, "cannot initialise libcurl");
		return 1;
	}
	url = nc->url[ch];
	if (ch == NC_ALERTMANAGER) {
		size_t len = strlen(nc->url[ch]);
		const char *tail = "/api/v2/alerts";

		/* A base URL gets the API's path; one already ending in it is kept. */
		if (len < strlen(tail) || strcmp(nc->url[ch] + len - strlen(tail), tail) != 0) {
			url = malloc(len + strlen(tail) + 1);
			if (!url) {
				curl_easy_cleanup(c);
				snprintf(why, whysize, "out of memory");
				return 1;
			}
			snprintf(url, len + strlen(tail) + 1, "%.*s%s", (int) (len && nc->url[ch][len - 1] == '/' ? len - 1 : len),
				 nc->url[ch], tail);
		}
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	if (ch == NC_WEBHOOK && nc->token) {
		size_t size = strlen(nc->token) + 32;
		char *auth = malloc(size);

		if (auth) {
			snprintf(auth, size, "Authorization: Bearer %s", nc->token);
			headers = curl_slist_append(headers, auth);
			explicit_bzero(auth, size);
			free(auth);
		}
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) nc->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) nc->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pgp-alert/" PGP_VERSION);
	/* Never elsewhere than the URL says: a redirect is an answer (refused). */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	result = notify_classify(status, rc == CURLE_OK);
	if (rc != CURLE_OK)
		snprintf(why, whysize, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
	else if (result)
		snprintf(why, whysize, "HTTP status %ld%s%.200s", status, answer.len ? ": " : "", answer.text);
	scrub_all(nc, why);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	if (url != nc->url[ch])
		free(url);
	return result;
}

/* Alertmanager hears every firing alert on every run, pending or not. */
static void
add_firing(const struct alert_run *run, struct json_object *events)
{
	for (int ti = 0; ti < run->n_targets; ti++) {
		const struct alert_target *t = &run->targets[ti];

		if (t->lock_fd < 0)
			continue;
		for (int id = 0; id < CK_COUNT; id++) {
			const struct check_track *tr = &t->track[id];

			/* A check the configuration turned off is no longer
			 * heard of: Alertmanager resolves it by itself. */
			if (tr->notified == ST_OK || !t->conf[id].enabled)
				continue;
			json_object_array_add(events, make_event(t, (enum check_id) id, "firing", tr->notified,
								 tr->notified, NR_REPEAT, tr->text, tr->value,
								 tr->notified_since, 0, (long long) run->now));
		}
	}
}

void
notify_send(const struct alert_run *run)
{
	const struct notify_conf *nc = &run->notify;

	if (!run->notifying)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pgp_error("cannot initialise libcurl: notifications wait for the next run");
		return;
	}
	for (int ch = 0; ch < NC_COUNT; ch++) {
		struct json_object *events;
		int queued = 0, total, rc;
		char why[600], *body;

		if (!nc->on[ch])
			continue;
		events = json_object_new_array();
		for (int ti = 0; ti < run->n_targets; ti++) {
			const struct alert_target *t = &run->targets[ti];
			size_t n = t->lock_fd >= 0 && t->outbox[ch] ? json_object_array_length(t->outbox[ch]) : 0;

			for (size_t i = 0; i < n; i++)
				json_object_array_add(events, json_object_get(json_object_array_get_idx(t->outbox[ch], i)));
			queued += (int) n;
		}
		if (ch == NC_ALERTMANAGER)
			add_firing(run, events);
		total = (int) json_object_array_length(events);
		if (total == 0) {
			json_object_put(events);
			continue;
		}
		body = notify_payload((enum notify_channel) ch, events, run->now);
		json_object_put(events);
		if (!body) {
			pgp_error("out of memory: %d %s notifications wait for the next run", queued, channel_names[ch]);
			continue;
		}
		rc = post(nc, (enum notify_channel) ch, body, why, sizeof(why));
		free(body);
		if (rc == 1) {
			pgp_error("cannot deliver %d notification%s to %s (%s): %s", total, total == 1 ? "" : "s",
				  channel_names[ch], nc->shown[ch], why);
			if (queued)
				pgp_detail("kept in the state file: the next run sends %s again", queued == 1 ? "it" : "them");
			else
				pgp_detail("the firing alerts are sent again by the next run");
			continue;
		}
		if (rc == 2) {
			pgp_error("%s (%s) refused %d notification%s: %s", channel_names[ch], nc->shown[ch], total,
				  total == 1 ? "" : "s", why);
			pgp_detail("not retried (the receiver would refuse them again): check its URL and what it accepts");
		} else
			pgp_debug("%d notification%s delivered to %s (%s)", total, total == 1 ? "" : "s",
				  channel_names[ch], nc->shown[ch]);
		for (int ti = 0; ti < run->n_targets; ti++) {
			struct alert_target *t = &run->targets[ti];
			size_t n;

			if (t->lock_fd < 0 || !t->outbox[ch])
				continue;
			n = json_object_array_length(t->outbox[ch]);
			if (n)
				json_object_array_del_idx(t->outbox[ch], 0, n);
		}
	}
	curl_global_cleanup();
}

void
notify_conf_free(struct notify_conf *nc)
{
	for (int ch = 0; ch < NC_COUNT; ch++) {
		if (nc->url[ch]) {
			explicit_bzero(nc->url[ch], strlen(nc->url[ch]));
			free(nc->url[ch]);
		}
		nc->url[ch] = NULL;
	}
	if (nc->token) {
		explicit_bzero(nc->token, strlen(nc->token));
		free(nc->token);
	}
	nc->token = NULL;
}
