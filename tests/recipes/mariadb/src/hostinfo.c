/* mysql-hostinfo: what the host kernel offers a MySQL server in a container.
 *
 * Prints one "key=value" line per fact that decides whether mysqld runs well
 * on an ARM server (Kunpeng/Phytium with Kylin V10 or openEuler):
 *   page_size    4096 on most x86_64 hosts, 65536 on Kylin V10's arm64 kernel;
 *   native_aio   whether io_setup(2) works: InnoDB's native AIO needs it, and
 *                QEMU user emulation or a strict seccomp profile may refuse it;
 *   seccomp      the Seccomp line of /proc/self/status (0 none, 2 filtered).
 * Exit status 0; the facts are for people and for the image tests.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void print_page_size(void)
{
    printf("page_size=%ld\n", sysconf(_SC_PAGESIZE));
}

static void print_native_aio(void)
{
    unsigned long ctx = 0;

    if (syscall(SYS_io_setup, 1, &ctx) == 0) {
        syscall(SYS_io_destroy, ctx);
        printf("native_aio=yes\n");
    } else {
        printf("native_aio=no (%s)\n", strerror(errno));
    }
}

static void print_seccomp(void)
{
    char line[256];
    FILE *status = fopen("/proc/self/status", "r");

    if (status == NULL) {
        printf("seccomp=unknown\n");
        return;
    }
    while (fgets(line, sizeof line, status) != NULL) {
        unsigned mode;

        if (sscanf(line, "Seccomp: %u", &mode) == 1) {
            printf("seccomp=%u\n", mode);
            fclose(status);
            return;
        }
    }
    fclose(status);
    printf("seccomp=unknown\n");
}

int main(void)
{
    print_page_size();
    print_native_aio();
    print_seccomp();
    return 0;
}
