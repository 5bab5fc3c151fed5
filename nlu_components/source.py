"""A component's own code in Rasa's training-cache key.

Rasa fingerprints a component by its name, config and inputs, not its code: after an edit to a file under
nlu_components/, `rasa train` would restore from `.rasa/cache` what the old code computed (a model whose
features no longer match what the new code produces). Each trained component adds this to its fingerprint.
"""

import hashlib
from pathlib import Path


def code_fingerprint(*paths: str) -> str:
    """A digest of the given source files' bytes."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()
