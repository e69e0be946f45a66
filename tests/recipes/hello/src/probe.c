/* Configure-time probe of the hello fixture: prints the machine it runs on. */
#include <stdio.h>
#include <sys/utsname.h>

int main(void)
{
    struct utsname u;

    if (uname(&u) != 0)
        return 1;
    printf("%s\n", u.machine);
    return 0;
}
