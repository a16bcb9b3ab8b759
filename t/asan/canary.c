/*
 * Canary for t/asan/canary.t: proves that a report of AddressSanitizer,
 * UndefinedBehaviorSanitizer or valgrind memcheck about an nginx worker
 * reaches the test harness. Preloaded (LD_PRELOAD; after libasan for the
 * ASan build) into nginx; LFV_CANARY is read when nginx starts (workers
 * lose the environment). At exit, in worker processes only, it commits one
 * deliberate error:
 *
 *   heap   a read one byte past an 8-byte malloc() (ASan, memcheck)
 *   ubsan  a signed integer overflow, INT_MAX + n (UBSan)
 *   leak   a malloc() whose pointer is lost (memcheck's leak check)
 *
 * Build: t/asan/run.sh (with -fsanitize=address,undefined), t/valgrind/run.sh
 * (without).
 */

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>


static int      lfv_canary_mode;
static int      lfv_canary_depth;
volatile int    lfv_canary_sink;
void *volatile  lfv_canary_ptr;


/*
 * Fork depth: the process the harness starts forks the daemon (the master,
 * depth 1), which forks the workers (depth 2). Process titles cannot tell:
 * under valgrind /proc/self/cmdline shows valgrind's command line.
 */

static void
lfv_canary_forked(void)
{
    lfv_canary_depth++;
}


static void
lfv_canary_exit(void)
{
    char           *p;
    volatile int    n;

    if (lfv_canary_depth < 2) {
        return;
    }

    if (lfv_canary_mode == 1) {
        p = malloc(8);
        lfv_canary_sink = p[8];         /* heap-buffer-overflow */
        free(p);

    } else if (lfv_canary_mode == 2) {
        n = lfv_canary_sink + 1;
        lfv_canary_sink = INT_MAX + n;  /* signed integer overflow */

    } else {
        lfv_canary_ptr = malloc(32);
        lfv_canary_ptr = NULL;          /* definitely lost */
    }
}


__attribute__((constructor)) static void
lfv_canary_init(void)
{
    const char  *mode;

    mode = getenv("LFV_CANARY");

    if (mode == NULL) {
        return;
    }

    if (strcmp(mode, "heap") == 0) {
        lfv_canary_mode = 1;

    } else if (strcmp(mode, "ubsan") == 0) {
        lfv_canary_mode = 2;

    } else if (strcmp(mode, "leak") == 0) {
        lfv_canary_mode = 3;

    } else {
        return;
    }

    pthread_atfork(NULL, NULL, lfv_canary_forked);
    atexit(lfv_canary_exit);
}
