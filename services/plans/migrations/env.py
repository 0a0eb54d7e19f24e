from services.plans.models import metadata
from shared.migrations_env import run

run(metadata)
