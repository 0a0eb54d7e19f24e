"""Generate the JSON Schemas of the envelope and every event into shared/contracts/schemas/.

    python -m shared.contracts.schema_export          # write
    python -m shared.contracts.schema_export --check  # exit 1 if the files drift from the code
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.contracts import REGISTRY, Envelope

SCHEMA_DIR = Path(__file__).with_name("schemas")


def rendered_schemas() -> dict[str, str]:
    files = {"envelope.json": Envelope.model_json_schema()}
    for event_type, cls in sorted(REGISTRY.items()):
        schema = cls.model_json_schema()
        schema["$id"] = f"urn:thongthin:event:{event_type}"
        schema["title"] = event_type
        files[f"{event_type}.json"] = schema
    return {name: json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
            for name, schema in files.items()}


def drift() -> list[str]:
    """Names of schema files that are missing, stale, or no longer generated."""
    wanted = rendered_schemas()
    present = {p.name for p in SCHEMA_DIR.glob("*.json")}
    stale = [name for name, text in wanted.items()
             if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text("utf-8") != text]
    return sorted(stale + sorted(present - set(wanted)))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = drift()
        for name in problems:
            print(f"schema drift: {name}", file=sys.stderr)
        return 1 if problems else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for stale in set(p.name for p in SCHEMA_DIR.glob("*.json")) - set(rendered_schemas()):
        (SCHEMA_DIR / stale).unlink()
    for name, text in rendered_schemas().items():
        (SCHEMA_DIR / name).write_text(text, "utf-8")
    print(f"wrote {len(rendered_schemas())} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
