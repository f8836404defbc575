/*
 * AFL++'s persistent-mode macros, or stand-ins when the harness is built
 * with a plain compiler (the replay binary): the loop then runs once over
 * stdin.  Included by each harness before anything else that uses them.
 */
#ifndef PGP_FUZZ_AFL_COMPAT_H
#define PGP_FUZZ_AFL_COMPAT_H

#include <unistd.h>

#ifndef __AFL_FUZZ_TESTCASE_LEN
#define FUZZ_STDIN_MAX (1 << 20)
static ssize_t fuzz_stdin_len;
static unsigned char fuzz_stdin_buf[FUZZ_STDIN_MAX];
static int fuzz_stdin_done;
#define __AFL_FUZZ_TESTCASE_LEN fuzz_stdin_len
#define __AFL_FUZZ_TESTCASE_BUF fuzz_stdin_buf
#define __AFL_FUZZ_INIT() extern int fuzz_afl_compat_unused
#define __AFL_INIT() ((void) 0)
#define __AFL_LOOP(x) \
	(!fuzz_stdin_done++ && (fuzz_stdin_len = read(0, fuzz_stdin_buf, FUZZ_STDIN_MAX)) >= 0)
#endif

#endif
