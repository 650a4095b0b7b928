"""Packaging hook: the wheel carries a copy of flows/ as bot/flows_data (read when installed)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithFlows(build_py):
    """build_py, then the flow files copied into the built package (flows/ itself stays put)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the repository's flows/ folder
        target = Path(self.build_lib) / "bot" / "flows_data"
        target.mkdir(parents=True, exist_ok=True)
        for file in Path(__file__).resolve().parent.joinpath("flows").iterdir():
            if file.suffix in (".yaml", ".yml", ".md"):
                shutil.copy2(file, target / file.name)
            elif file.is_dir() and file.name == "directory":  # companies, sectors, mediators, problems
                shutil.copytree(file, target / file.name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithFlows})
