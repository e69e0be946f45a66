"""The daemon.json an offline bundle's install.sh puts into /etc/docker (when the host has none).

Owns turning the --docker-* settings (data root, storage driver, log rotation, registry
mirrors, plain-http registries, further keys as JSON) into that file, each value checked.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ConfigError
from ..settings import Settings

STORAGE_DRIVERS = ("overlay2", "fuse-overlayfs", "btrfs", "zfs", "vfs")
NAMED_DAEMON_KEYS = {"data-root": "--docker-data-root", "storage-driver": "--docker-storage-driver",
                     "log-driver": "--docker-log-max-size/--docker-log-max-file",
                     "log-opts": "--docker-log-max-size/--docker-log-max-file",
                     "registry-mirrors": "--docker-registry-mirrors",
                     "insecure-registries": "--docker-insecure-registries"}
PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*$")
SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$")
REGISTRY_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
CIDR_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$")
MIRROR_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s,]*)?$")


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def daemon_config(settings: Settings) -> dict[str, Any]:
    """The daemon.json that install.sh puts in /etc/docker (when the host has none)."""
    data_root = settings.docker_data_root.rstrip("/") or "/"
    if not PATH_RE.match(data_root) or data_root == "/" or "/../" in data_root + "/":
        raise ConfigError(f"--docker-data-root {settings.docker_data_root!r} is not an absolute folder path",
                          "e.g. /var/lib/docker or /data/docker (letters, digits, . _ - + and /; no spaces)")
    config: dict[str, Any] = {"data-root": data_root}
    driver = settings.docker_storage_driver.strip()
    if driver:
        if driver not in STORAGE_DRIVERS:
            raise ConfigError(f"--docker-storage-driver {driver!r} is not a storage driver of current Docker",
                              f"allowed: {', '.join(STORAGE_DRIVERS)}; leave it empty to let dockerd choose "
                              f"(overlay2 on any kernel that has it)")
        config["storage-driver"] = driver
    size = settings.docker_log_max_size.strip().lower()
    if not SIZE_RE.match(size):
        raise ConfigError(f"--docker-log-max-size {settings.docker_log_max_size!r} is not a size",
                          "a number with k, m or g, e.g. 100m")
    if settings.docker_log_max_file < 1:
        raise ConfigError("--docker-log-max-file must be at least 1", "e.g. 3: the current log and two rotated ones")
    config["log-driver"] = "json-file"
    config["log-opts"] = {"max-size": size, "max-file": str(settings.docker_log_max_file)}
    mirrors = _comma_list(settings.docker_registry_mirrors)
    for url in mirrors:
        if not MIRROR_RE.match(url):
            raise ConfigError(f"--docker-registry-mirrors: {url!r} is not an http(s):// URL",
                              "e.g. https://harbor.intranet:8443 (comma-separate several)")
    if mirrors:
        config["registry-mirrors"] = mirrors
    insecure = _comma_list(settings.docker_insecure_registries)
    for entry in insecure:
        if not (REGISTRY_RE.match(entry) or CIDR_RE.match(entry)):
            hint = "without http:// in front" if "://" in entry else "HOST[:PORT] or a CIDR such as 10.0.0.0/8"
            raise ConfigError(f"--docker-insecure-registries: {entry!r} is not a registry address", hint)
    if insecure:
        config["insecure-registries"] = insecure
    extra_text = settings.docker_daemon_extra.strip()
    if extra_text:
        try:
            extra = json.loads(extra_text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--docker-daemon-extra is not valid JSON: {exc}",
                              "give a JSON object, e.g. '{\"iptables\": false, \"live-restore\": true}'") from None
        if not isinstance(extra, dict):
            raise ConfigError("--docker-daemon-extra must be a JSON object of daemon.json keys",
                              "e.g. '{\"live-restore\": true}'")
        for key, value in extra.items():
            if key in NAMED_DAEMON_KEYS:
                raise ConfigError(f"--docker-daemon-extra sets {key!r}, which has its own option",
                                  f"use {NAMED_DAEMON_KEYS[key]} instead")
            config[key] = value
    return config


def daemon_json_text(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2) + "\n"

