"""Every module that defines tables, imported so that `Base.metadata` knows the whole schema.

Alembic's environment and the test that compares migrations with models import this module; a new model
module must be listed here, or its migration drifts unnoticed.
"""

import tutela.auth.keys
import tutela.banks.models
import tutela.effects.models
import tutela.pipeline.models
import tutela.services.models

__all__ = ["tutela"]
