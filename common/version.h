/* The toolkit's version, printed by every program's --version. */
#ifndef PGP_VERSION_H
#define PGP_VERSION_H
#define PGP_VERSION "0.1.0"
#endif
