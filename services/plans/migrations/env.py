from services.plans.models import metadata
import services.plans.plan_tables  # noqa: F401
from shared.migrations_env import run

run(metadata)
