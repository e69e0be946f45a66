"""mysqlbuild: MySQL 5.7 from the official source to aarch64 RPMs and a verified image."""

__version__ = "0.1.0"
