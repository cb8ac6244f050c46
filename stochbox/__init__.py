"""stochbox: can a language-model agent *sample* from a random process?

Public surface of the core package. Subpackages with their own public surface:
``stochbox.scenarios``, ``stochbox.sandbox``, ``stochbox.agents``,
``stochbox.evaluators``.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from stochbox.errors import StochboxError
from stochbox.seeding import derive_seed

try:
    __version__ = _version("stochbox")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = ["StochboxError", "derive_seed", "__version__"]
