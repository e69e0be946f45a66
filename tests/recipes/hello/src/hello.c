/* Test fixture of mysqlbuild: a tiny program packaged like MySQL is, so that
 * the pipeline (builder, rpmbuild, RPM checks, image, verify, save) can be
 * proven in minutes instead of hours. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#ifndef HELLO_VERSION
#define HELLO_VERSION "unknown"
#endif

int main(int argc, char **argv)
{
    struct utsname u;

    if (uname(&u) != 0) {
        perror("uname");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "--machine") == 0) {
        printf("%s\n", u.machine);
        return 0;
    }
    printf("hello from mysqlbuild fixture %s on %s\n", HELLO_VERSION, u.machine);
    return 0;
}
