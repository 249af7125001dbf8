"""Build configuration that pyproject.toml cannot express: the top-level ``models/`` folder (where
``make train`` writes the shipped model) goes into the wheel as the package ``nlp_guard_models``,
so an installed nlp_guard finds its model through ``importlib.resources``. Everything else is in
pyproject.toml."""
from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["nlp_guard*", "api*"]), "nlp_guard_models"],
      package_dir={"nlp_guard_models": "models"})
