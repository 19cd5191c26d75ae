"""The check a package that needs an optional extra makes when it is imported."""

from __future__ import annotations

from importlib import import_module

__all__ = ["require_extra"]


def require_extra(package: str, needs: str, extra: str, *modules: str) -> None:
    """Import ``modules``; when one is missing, an ImportError naming what ``package`` needs
    and the pip command that installs ``extra``."""
    try:
        for module in modules:
            import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{package} needs {needs}; install the '{extra}' extra: "
            f'pip install "headroom-langchain[{extra}]"'
        ) from error
