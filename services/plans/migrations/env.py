from services.plans.models import metadata
import services.plans.development_plans.tables  # noqa: F401
from shared.migrations_env import run

run(metadata)
