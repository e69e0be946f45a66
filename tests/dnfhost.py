"""A Debian container that installs RPMs with dnf, standing for a Kylin, openEuler or EL host.

On those hosts the system's own libraries and tools are RPMs, so rpm knows that glibc provides libc.so.6,
that coreutils is installed and that /bin/sh exists.  Debian installs them with dpkg and rpm knows nothing
of them.  The image therefore registers one package, debian-system, whose Provides are what the container
really has, found the way rpm finds them:

- every shared library, through rpm's own dependency generator (elfdeps --provides), and rtld(GNU_HASH),
  which glibc's RPM declares;
- every installed Debian package by name (coreutils, grep, ...);
- every program in /bin, /sbin, /usr/bin and /usr/sbin by path (/bin/sh, /usr/sbin/useradd, ...);
- every Perl module by its perl() name (perl(Getopt::Long), ...).

rpm's database lives where RPM systems keep it (/var/lib/rpm), and /etc/yum.repos.d is there, as on them.
Used by tests/integration/test_7_rpm_repository.py on the hello fixture, and by hand for the MySQL RPMs
(docs/measurements.md).
"""
from __future__ import annotations

from pathlib import Path

DOCKERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dnf rpm gnupg {packages} \\
      >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
RUN mkdir -p /etc/rpm /etc/yum.repos.d /var/lib/rpm /root/rpmbuild/SPECS && echo '%_dbpath /var/lib/rpm' > /etc/rpm/macros.dbpath \\
 && {{ find -H /lib /usr/lib \\( -name 'lib*.so*' -o -name 'ld-*.so*' \\) -type f | /usr/lib/rpm/elfdeps --provides; \\
       echo 'rtld(GNU_HASH)'; dpkg-query -W -f '${{Package}}\\n'; \\
       find -H /bin /sbin /usr/bin /usr/sbin -maxdepth 1 \\( -type f -o -type l \\); \\
       find /usr/share/perl* /usr/lib/*/perl* /usr/share/perl5 -name '*.pm' 2>/dev/null \\
         | sed -E 's#^/usr/(share|lib/[^/]+)/perl(5|-base)?/([0-9.]+/)?##; s#\\.pm$##; s#/#::#g; s#^(.*)$#perl(\\1)#'; \\
    }} | sort -u | sed 's/^/Provides: /' > /root/provides \\
 && {{ printf '%s\\n' 'Name: debian-system' 'Version: 1' 'Release: 1' 'BuildArch: noarch' 'License: various' \\
        'Summary: what Debian installed in this container, as rpm sees it'; cat /root/provides; \\
      printf '%s\\n' '%description' 'Stands for the system RPMs of an RPM-based host.' '%files'; \\
    }} > /root/rpmbuild/SPECS/debian-system.spec \\
 && rpmbuild -bb --quiet /root/rpmbuild/SPECS/debian-system.spec \\
 && rpm -i /root/rpmbuild/RPMS/noarch/debian-system-1-1.noarch.rpm && rm -rf /root/rpmbuild /root/provides
"""


def build(engine, base: str, tag: str, folder: Path, packages: str = "") -> str:
    """The dnf host image `tag` made from the Debian image `base`, with Debian's `packages` besides."""
    (folder / "Dockerfile").write_text(DOCKERFILE.format(base=base, packages=packages))
    engine.sdk.images.build(path=str(folder), tag=tag, rm=True)
    return tag
