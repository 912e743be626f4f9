"""The wheel carries ``conf/`` and the shipped ``data/`` inside the package (``forecast/shipped/``), so an installed
``forecast`` runs offline on the shipped prices; ``forecast.config.paths`` finds them there. Everything else about
the package is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
SHIPPED = {"conf": "conf", "data/README.md": "data/README.md", "data/snapshot": "data/snapshot"}


class BuildWithShipped(build_py):
    """Copy conf/ and the shipped data into the built package (not in an editable install: it reads the checkout)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "forecast" / "shipped"
        for source, name in SHIPPED.items():
            if (HERE / source).is_dir():
                shutil.copytree(HERE / source, target / name, dirs_exist_ok=True)
            else:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(HERE / source, target / name)


setup(cmdclass={"build_py": BuildWithShipped})
