"""stochbox: can a language-model agent *sample* from a random process?

Public surface of the core package. Subpackages, one idea each (docs/architecture.md
has the rule of what each may import): ``stochbox.scenarios``, ``stochbox.sandbox``,
``stochbox.reference.cache``, ``stochbox.agents``, ``stochbox.evaluators``,
``stochbox.run``, ``stochbox.traces``, ``stochbox.analysis``, ``stochbox.cli``.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from stochbox.errors import StochboxError
from stochbox.seeding import derive_seed

try:
    __version__ = _version("stochbox")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = ["StochboxError", "derive_seed", "__version__"]
