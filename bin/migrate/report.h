/*
 * The report: findings collected by every step (mc_find in migrate.h), the
 * verdict, and its three forms: text for people, JSON for scripts, GitHub
 * workflow commands for CI annotations.
 */
#ifndef PGP_MIGRATE_REPORT_H
#define PGP_MIGRATE_REPORT_H

#include <stdio.h>

#include "migrate.h"

enum mc_verdict { MC_PASS = 0, MC_WARN, MC_FAIL };

enum mc_verdict mc_report_verdict(const struct mc_report *r);
const char *mc_verdict_name(enum mc_verdict v);	/* "PASS", "WARN", "FAIL" */
const char *mc_severity_name(enum mc_severity s);	/* "info", "warning", "error" */
/* format: "text", "json" or "github".  Returns 0, or -1 on a write error. */
int mc_report_print(FILE *out, const char *format, const struct mc_report *r,
		    const struct mc_set *set);
void mc_report_free(struct mc_report *r);

#endif
