/*
 * Where an installed pgp finds its configuration and keeps its state.
 * The Makefile passes SYSCONFDIR and LOCALSTATEDIR (-DPGP_SYSCONFDIR=...),
 * so `make install SYSCONFDIR=/opt/etc` builds programs that read
 * /opt/etc/pgp/pgp.conf; a build without them gets the FHS locations.
 */
#ifndef PGP_PATHS_H
#define PGP_PATHS_H

#ifndef PGP_SYSCONFDIR
#define PGP_SYSCONFDIR "/etc"
#endif
#ifndef PGP_LOCALSTATEDIR
#define PGP_LOCALSTATEDIR "/var"
#endif

/* The configuration file read when neither -c nor PGP_CONFIG names one. */
#define PGP_CONF_DEFAULT_PATH PGP_SYSCONFDIR "/pgp/pgp.conf"
/* The default state directory (backup.state_dir): state and lock files. */
#define PGP_STATE_DIR_DEFAULT PGP_LOCALSTATEDIR "/lib/pgp"

#endif
