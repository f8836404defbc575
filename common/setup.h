/*
 * What every program does between parsing its options and its job: check
 * -d, load the configuration it was pointed at, open syslog if configured.
 */
#ifndef PGP_SETUP_H
#define PGP_SETUP_H

#include "conf.h"
#include "opt.h"

/*
 * Check -d's syntax, load the configuration, open syslog.  Returns 0, or
 * the program's usage exit status after logging (bad -d or config).
 */
int pgp_setup(const struct pgp_common *c, struct pgp_conf **conf);

/*
 * A job this version cannot do yet: say so plainly and return the
 * program's failure status, never pretend.
 */
int pgp_not_implemented(const char *job, int status);

#endif
