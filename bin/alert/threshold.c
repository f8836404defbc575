/*
 * Thresholds in check_postgres's syntax, not Nagios ranges: operators
 * write "90%", "5m", "1GB" or a plain number, and a value at or past the
 * threshold alerts (at or below it for ratios), critical checked first.
 * Pure functions: tests/unit/test_alert.c pins them.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert.h"

const char *
alert_state_name(enum alert_state s)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

	return (unsigned) s < 4 ? names[s] : "UNKNOWN";
}

/* Rank for "worse": OK < UNKNOWN < WARNING < CRITICAL. */
static int
rank(enum alert_state s)
{
	static const int r[] = {0, 2, 3, 1};

	return (unsigned) s < 4 ? r[s] : 1;
}

enum alert_state
alert_worse(enum alert_state a, enum alert_state b)
{
	return rank(a) >= rank(b) ? a : b;
}

struct unit {
	const char *name;
	double mult;
};

static const struct unit time_units[] = {
	{"ms", 0.001}, {"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
	{"m", 60}, {"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
	{"h", 3600}, {"hr", 3600}, {"hour", 3600}, {"hours", 3600},
	{"d", 86400}, {"day", 86400}, {"days", 86400},
	{"w", 604800}, {"week", 604800}, {"weeks", 604800}, {NULL, 0}
};

static const struct unit size_units[] = {
	{"b", 1}, {"k", 1024.0}, {"kb", 1024.0}, {"kib", 1024.0},
	{"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0},
	{"g", 1073741824.0}, {"gb", 1073741824.0}, {"gib", 1073741824.0},
	{"t", 1099511627776.0}, {"tb", 1099511627776.0}, {"tib", 1099511627776.0},
	{"p", 1125899906842624.0}, {"pb", 1125899906842624.0}, {NULL, 0}
};

static const char *const kind_words[] = {
	"a time (30s, 5m, 2h, 1d)", "a size (100MB, 1GB)", "a percentage (90%)", "a number"
};

static int
find_unit(const struct unit *units, const char *s, double *mult)
{
	for (; units->name; units++) {
		if (strcasecmp(units->name, s) == 0) {
			*mult = units->mult;
			return 0;
		}
	}
	return -1;
}

int
threshold_parse(const char *text, enum value_kind kind, int pct_of_max,
		struct threshold *out, char *why, size_t whysize)
{
	char unit[16];
	const char *p = text;
	char *end;
	double v, mult = 1;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	while (isspace((unsigned char) *p))
		p++;
	if (!*p || strcasecmp(p, "none") == 0)
		return 0;
	if (!isdigit((unsigned char) *p) && *p != '.')
		goto bad;
	v = strtod(p, &end);
	if (end == p || !isfinite(v) || v < 0)
		goto bad;
	while (isspace((unsigned char) *end))
		end++;
	while (*end && !isspace((unsigned char) *end) && n + 1 < sizeof(unit))
		unit[n++] = *end++;
	unit[n] = '\0';
	while (isspace((unsigned char) *end))
		end++;
	if (*end)
		goto bad;

	if (strcmp(unit, "%") == 0) {
		if (kind != VK_PERCENT && !pct_of_max) {
			snprintf(why, whysize, "\"%s\": a percentage does not apply here (expected %s)",
				 text, kind_words[kind]);
			return -1;
		}
		if (v > 100 && kind == VK_PERCENT) {
			snprintf(why, whysize, "\"%s\": a percentage above 100%%", text);
			return -1;
		}
		out->percent = kind != VK_PERCENT;
	} else if (*unit) {
		int found = kind == VK_SECONDS ? find_unit(time_units, unit, &mult)
			: kind == VK_BYTES ? find_unit(size_units, unit, &mult) : -1;

		if (found < 0) {
			snprintf(why, whysize, "\"%s\": unknown unit \"%s\" (expected %s)", text, unit,
				 kind_words[kind]);
			return -1;
		}
	} else if (kind == VK_PERCENT && v > 100) {
		snprintf(why, whysize, "\"%s\": a percentage above 100", text);
		return -1;
	}
	out->set = 1;
	out->value = v * mult;
	return 0;

bad:
	snprintf(why, whysize, "\"%s\" is not %s", text, kind_words[kind]);
	return -1;
}

double
threshold_limit(const struct threshold *t, double max)
{
	if (!t->set)
		return 0;
	return t->percent ? t->value / 100.0 * max : t->value;
}

enum alert_state
threshold_compare(double value, int warn_set, double warn, int crit_set, double crit,
		  int lower_is_worse)
{
	if (lower_is_worse) {
		if (crit_set && value <= crit)
			return ST_CRITICAL;
		if (warn_set && value <= warn)
			return ST_WARNING;
		return ST_OK;
	}
	if (crit_set && value >= crit)
		return ST_CRITICAL;
	if (warn_set && value >= warn)
		return ST_WARNING;
	return ST_OK;
}

double
delta_ratio(double part, double rest, double floor)
{
	double total = part + rest;

	if (part < 0 || rest < 0 || total <= 0 || total < floor)
		return -1;
	return 100.0 * part / total;
}

double
counter_delta(double now, double before)
{
	return now >= before ? now - before : -1;
}

void
format_duration(double seconds, char *buf, size_t size)
{
	long long s = (long long) llround(seconds < 0 ? 0 : seconds);

	if (seconds > 0 && seconds < 1)
		snprintf(buf, size, "%.0fms", seconds * 1000);
	else if (seconds > 0 && seconds < 10 && fabs(seconds - (double) s) > 0.05)
		snprintf(buf, size, "%.1fs", seconds);
	else if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600 && s % 60)
		snprintf(buf, size, "%lldm%llds", s / 60, s % 60);
	else if (s < 3600)
		snprintf(buf, size, "%lldm", s / 60);
	else if (s < 86400 && (s % 3600) / 60)
		snprintf(buf, size, "%lldh%lldm", s / 3600, (s % 3600) / 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh", s / 3600);
	else if ((s % 86400) / 3600)
		snprintf(buf, size, "%lldd%lldh", s / 86400, (s % 86400) / 3600);
	else
		snprintf(buf, size, "%lldd", s / 86400);
}

void
format_bytes_h(double bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	int u = 0;

	while (bytes >= 1024 && u < 5) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0fB", bytes);
	else
		snprintf(buf, size, "%.1f%s", bytes, units[u]);
}
