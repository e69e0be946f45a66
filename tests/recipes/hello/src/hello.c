/* Test fixture of mysqlbuild: a tiny program packaged like MySQL is, so that
 * the pipeline (builder, rpmbuild, RPM checks, image, verify, save) can be
 * proven in minutes instead of hours.  hello_table.h is generated during the
 * build by gentable; HELLO_CONFIGURED_ON comes from a probe cmake ran.
 * `hello --count N` adds to an atomic counter, as InnoDB's counters do: on
 * aarch64 the RPM checks see how its atomics were compiled (run-time LSE
 * dispatch, LSE only or load/store-exclusive loops only). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

#include "hello_table.h"

static atomic_long hello_counter;

static long count_to(long n)
{
    for (long i = 0; i < n; i++)
        atomic_fetch_add_explicit(&hello_counter, 1, memory_order_acq_rel);
    return atomic_load(&hello_counter);
}

#ifndef HELLO_VERSION
#define HELLO_VERSION "unknown"
#endif

int main(int argc, char **argv)
{
    struct utsname u;
    unsigned char first = 0;

    if (uname(&u) != 0) {
        perror("uname");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "--machine") == 0) {
        printf("%s\n", u.machine);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--count") == 0) {
        printf("%ld\n", count_to(strtol(argv[2], NULL, 10)));
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--build-info") == 0) {
        /* The table was made by the generator; check it against this zlib. */
        int table_ok = hello_crc_of_index[0] == crc32(0L, &first, 1);
        printf("configured on %s, generated on %s, cmake processor %s, zlib %s, table %s\n",
               HELLO_CONFIGURED_ON, HELLO_GENERATED_ON, HELLO_SYSTEM_PROCESSOR, zlibVersion(),
               table_ok ? "ok" : "wrong");
        return table_ok ? 0 : 1;
    }
    printf("hello from mysqlbuild fixture %s on %s\n", HELLO_VERSION, u.machine);
    return 0;
}
