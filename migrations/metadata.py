"""Every model module, imported so Alembic sees the whole schema."""

from checks import models as checks_models  # noqa: F401
from contracts import models as contracts_models  # noqa: F401
from core import audit, auth  # noqa: F401
from core.models import Base
from governance.promotions import models as promotions_models  # noqa: F401
from governance.registry import models as registry_models  # noqa: F401
from incidents import models as incidents_models  # noqa: F401
from lineage import models as lineage_models  # noqa: F401
from monitors.drift import models as drift_models  # noqa: F401
from monitors.notify import models as notify_models  # noqa: F401
from monitors.quality import models as quality_models  # noqa: F401
from monitors.slos import models as slos_models  # noqa: F401
from ranker import models as ranker_models  # noqa: F401

target_metadata = Base.metadata
