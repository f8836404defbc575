/*
 * Exit status, one table for every pgp program (pgp(7), EXIT STATUS).
 * Cron, systemd and monitoring act on these, so they never change meaning.
 * pgp-alert alone speaks the Nagios plugin codes instead.
 */
#ifndef PGP_EXITCODES_H
#define PGP_EXITCODES_H

enum pgp_exit {
	PGP_EXIT_OK = 0,		/* success */
	PGP_EXIT_FOUND = 1,		/* the job ran and found something: drift,
					 * lint findings, a corrupt backup */
	PGP_EXIT_USAGE = 2,		/* usage or configuration error */
	PGP_EXIT_UNREACHABLE = 3,	/* server or network unreachable */
	PGP_EXIT_BUSY = 4,		/* another run holds the lock */
	PGP_EXIT_FAILED = 5		/* the job failed part way */
};

enum pgp_nagios {
	PGP_NAGIOS_OK = 0,
	PGP_NAGIOS_WARNING = 1,
	PGP_NAGIOS_CRITICAL = 2,
	PGP_NAGIOS_UNKNOWN = 3
};

#endif
