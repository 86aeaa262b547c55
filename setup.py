"""Package discovery: the repository's top-level folders are installed inside ``crm_contract``.

The checkout keeps the folders that show the kit's roles (``contract_tests/``, ``strategies/``,
``reference_server/``, ``contract/``), but a wheel must not put such generic names at the top of
site-packages, where they would shadow or be shadowed by a user's own packages. So each folder is
installed as a subpackage of ``crm_contract``, and every sub-package under it is found, not listed:
a new package cannot be left out of the wheel by a forgotten list entry.
Everything else (metadata, dependencies, entry points) is in ``pyproject.toml``.
"""

from __future__ import annotations

from setuptools import find_packages, setup

#: Installed package name -> folder in the repository.
ROOTS = {
    "crm_contract": "crm_contract",
    "crm_contract.contract": "contract",
    "crm_contract.contract_tests": "contract_tests",
    "crm_contract.reference_server": "reference_server",
    "crm_contract.strategies": "strategies",
}


def discovered() -> list[str]:
    """Every package under the roots, named as it is installed."""
    found = []
    for package, folder in ROOTS.items():
        found.append(package)
        found += [f"{package}.{sub}" for sub in find_packages(folder)]
    return sorted(found)


if __name__ == "__main__":  # setuptools' build backend runs this file as __main__; tests import ROOTS
    setup(packages=discovered(), package_dir=ROOTS)
