"""Naming conventions for driftgate's own lineage, so every step links into one graph.

Jobs and datasets live in driftgate's namespace (setting `DRIFTGATE_LINEAGE_NAMESPACE`,
default `driftgate`); a `DatasetRef` with `namespace=None` means that namespace. A version
string names the driftgate object it stands for, and `links` record the object ids so queries
can find them (`impact` lists versions with `model_version` as model versions and with
`prediction_window` as prediction windows). Pure: names only, no I/O.

Step → job, output dataset, version (links):
- batch check → `checks.validate.<contract>`, `contracts/<contract>/accepted` and
  `.../quarantine`, batch id (batch_id, contract_id, contract_version)
- features → `ranker.features`, `features/<feature_set>`, build id (feature_set, build_id)
- training → `ranker.train`, `models/<model>`, model version (model_name, model_version)
- evaluation → `ranker.evaluate`, `evaluations/<model>`, model version (same links)
- registration → `governance.register`, `registry/<model>`, model version (same links)
- promotion → `governance.promote`, `champion/<model>`, `<model version>@<change id>` (same
  links)
- serving → `ranker.serve`, `predictions/<model>`, window `2026-11-23T10:00:00Z/PT3600S`
  (model_name, prediction_window); one run per window, reading every model version served in it
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Link keys: the driftgate object a dataset version (or run) stands for.
BATCH_ID = "batch_id"
CONTRACT_ID = "contract_id"
CONTRACT_VERSION = "contract_version"
FEATURE_SET = "feature_set"
BUILD_ID = "build_id"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
PREDICTION_WINDOW = "prediction_window"


def check_job(contract_id: str) -> str:
    return f"checks.validate.{contract_id}"


def accepted_rows(contract_id: str) -> str:
    return f"contracts/{contract_id}/accepted"


def quarantined_rows(contract_id: str) -> str:
    return f"contracts/{contract_id}/quarantine"


def feature_set(name: str) -> str:
    return f"features/{name}"


def model(name: str) -> str:
    return f"models/{name}"


def evaluations(model_name: str) -> str:
    return f"evaluations/{model_name}"


def registry(model_name: str) -> str:
    return f"registry/{model_name}"


def champion(model_name: str) -> str:
    return f"champion/{model_name}"


def predictions(model_name: str) -> str:
    return f"predictions/{model_name}"


FEATURES_JOB = "ranker.features"
TRAIN_JOB = "ranker.train"
EVALUATE_JOB = "ranker.evaluate"
REGISTER_JOB = "governance.register"
PROMOTE_JOB = "governance.promote"
SERVE_JOB = "ranker.serve"


def prediction_window(start: datetime, length: timedelta) -> str:
    """`2026-11-23T10:00:00Z/PT3600S`: an ISO 8601 interval naming one prediction window."""
    moment = start.isoformat().replace("+00:00", "Z")
    return f"{moment}/PT{int(length.total_seconds())}S"
