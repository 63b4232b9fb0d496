"""A stand-in for a cross-validation fold's fitted model, shared by the tests of evaluate's out-of-fold hooks."""

import shutil

from mifidelity.coding.trained import DEFAULT_ARTIFACT


class ShippedFoldModel:
    """Saving it writes the shipped artifact (a real coder to load); ``saved``, if given, records who saved where."""

    def __init__(self, name: str = "", saved: list | None = None):
        self.name, self.saved = name, saved

    def save(self, path):
        shutil.copy(DEFAULT_ARTIFACT, path)
        if self.saved is not None:
            self.saved.append((self.name, path.name))
