"""Ad Manager process: `python -m servers.admanager.main`; its port answers health checks."""

from __future__ import annotations

from servers import runtime, settings


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the Ad Manager (the instruction consumer lands with campaign management)."""
    return runtime.ServerSpec("ad-manager", config.admanager_port)


if __name__ == "__main__":
    runtime.run("ad-manager", build, settings.load())
