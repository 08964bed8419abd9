/*
 * tmpfs.h - a small private tmpfs for the fault tests that need a full disk
 * (tests/cache/test_file.c, tests/hardening/test_cachefile.c), and the rule for when one cannot
 * be had: the test fails, naming why, unless the environment waives it on purpose.
 *
 * A skipped test counts as passed in CTest, so a guarantee that silently skipped would leave CI
 * green having proven nothing. The waiver, FASTRUN_WAIVE_TMPFS_TESTS=1, is for a developer's
 * container without mount rights; CI never sets it.
 */
#ifndef FRT_TMPFS_H
#define FRT_TMPFS_H

#include <stdbool.h>
#include <stddef.h>

/* Mounts a tmpfs of `size` (the mount option's text, e.g. "64k") over dir in a new private mount
 * namespace: only the caller and the children it starts afterwards see it. Needs root or
 * CAP_SYS_ADMIN (also as root of a user namespace). Returns 0, or -1 with the error in why
 * (borrowed buffer of len bytes). dir and size are borrowed. */
int frt_private_tmpfs(const char *dir, const char *size, char *why, size_t len);
/* Whether $FASTRUN_WAIVE_TMPFS_TESTS is "1". */
bool frt_tmpfs_waived(void);
/* Runs this test binary again with `--filter filter` under `unshare -Urm` (a user namespace in
 * which it is root, and its own mount namespace), unless this process is that re-run already
 * ($FRT_IN_USERNS). Returns 0 if the re-run passed, else -1 with why. A Criterion test process
 * cannot enter a user namespace itself (unshare(CLONE_NEWUSER) answers EINVAL there), hence the
 * re-run. */
int frt_rerun_in_userns(const char *filter, char *why, size_t len);

/* In a Criterion test (include <criterion/criterion.h> first) named by filter ("suite/test"):
 * mount; where that is not permitted, pass or fail as the test re-run in a user namespace does;
 * where that is not possible either, fail naming why, or skip only when waived, saying so. */
#define FRT_PRIVATE_TMPFS_OR_FAIL(dir, size, filter)                                               \
    do {                                                                                           \
        char frt_why_[512], frt_rerun_[512];                                                       \
        if (frt_private_tmpfs((dir), (size), frt_why_, sizeof frt_why_) == 0) break;               \
        if (frt_rerun_in_userns((filter), frt_rerun_, sizeof frt_rerun_) == 0) return;             \
        if (frt_tmpfs_waived())                                                                    \
            cr_skip_test("no tmpfs (%s; %s); waived by FASTRUN_WAIVE_TMPFS_TESTS=1", frt_why_,     \
                         frt_rerun_);                                                              \
        cr_assert_fail("cannot mount a private tmpfs over %s (%s; %s): this guarantee is "         \
                       "unproven here; set FASTRUN_WAIVE_TMPFS_TESTS=1 to skip it on purpose",     \
                       (dir), frt_why_, frt_rerun_);                                               \
    } while (0)

#endif
