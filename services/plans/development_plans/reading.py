"""Reading a plan file: YAML or JSON text in, a validated and flattened plan out.

The flow is

    text --load_document--> data --detect_shape--> adapter (sources.py) --> PlanDocument
         --flatten (tree.py)--> FlatPlan

and every problem is an ``InputError`` naming the field *in the file as given* (a path such as
``strategic_issues[2].goals[0].indicators[1].targets[2568]``), in Thai and English: an adapter
records in ``path_map`` where each normalized field came from, and ``map_path`` translates back.

The normalized document (``format: thongthin.plan/v1``) is a contract, defined in
``shared/contracts/plan_document.py``; it is also what ``views.export_plan`` returns, so an
export can be imported again unchanged. Pure Python (PyYAML, pydantic), no database.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from services.plans.development_plans.sources import SHAPES
from services.plans.development_plans.tree import FlatPlan, flatten
from shared.contracts.plan_document import FORMAT, PlanDocument
from shared.errors import InputError
from shared.validation import MAX_JSON_DEPTH, parse

__all__ = ["PlanInput", "load_document", "detect_shape", "read_plan", "map_path"]


def load_document(text: str | bytes) -> dict:
    """Parse a plan file (YAML or JSON; JSON is YAML) into a dict."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_shape(text, loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise InputError("invalid", "body", "อ่านไฟล์แผนไม่ได้ (YAML/JSON ไม่ถูกต้อง)",
                         f"cannot read the plan file (bad YAML/JSON): {exc}", status=422) from None
    if not isinstance(data, dict):
        raise InputError("invalid", "body", "ไฟล์แผนต้องเป็นออบเจ็กต์", "a plan file must be an object",
                         status=422)
    return data


def _check_shape(text: str | bytes, loader) -> None:
    """Refuse, from the parser's events and before building anything, a document nested deeper than
    MAX_JSON_DEPTH (100,000 ``[`` or ``- `` crash libyaml's composer: the whole service, not the request)
    or using aliases (a few lines of anchors can stand for billions of nodes)."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InputError("too_deep", "body", f"ไฟล์แผนซ้อนกันเกิน {MAX_JSON_DEPTH} ชั้น",
                                 f"the plan file nests deeper than {MAX_JSON_DEPTH} levels", status=422)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise InputError("invalid", "body", "ไฟล์แผนต้องไม่ใช้ alias ของ YAML (*name)",
                             "the plan file must not use YAML aliases (*name)", status=422)


def detect_shape(data: dict) -> str:
    """Which adapter reads this document (by its structure, not by its file name)."""
    if not isinstance(data, dict):
        raise InputError("invalid", "body", "ข้อมูลแผนต้องเป็นออบเจ็กต์", "a plan document must be an object",
                         status=422)
    if "format" in data:
        if data["format"] != FORMAT:
            raise InputError("invalid", "format", f"ไม่รู้จักรูปแบบ {data['format']!r}",
                             f"unknown format {data['format']!r}; expected {FORMAT}", status=422)
        return "normalized"
    plan = data.get("plan")
    if isinstance(data.get("strategic_issues"), list) and isinstance(plan, dict):
        return "dla_strategic"
    if isinstance(plan, dict) and isinstance(plan.get("strategic_issues"), list):
        return "provincial_cascade"
    if isinstance(plan, dict) and (isinstance(plan.get("indicators"), dict)
                                   or isinstance(plan.get("tactics"), list)
                                   or isinstance(plan.get("strategies"), list)):
        return "local_development"
    raise InputError("invalid", "body", "ไม่รู้จักโครงสร้างของไฟล์แผนนี้",
                     "unrecognised plan document: expected the normalized format "
                     f"({FORMAT}) or a DLA strategic, provincial or local development plan extract",
                     status=422)


@dataclass
class PlanInput:
    """A document read and validated: its shape, the normalized document and its flat rows."""
    shape: str
    document: PlanDocument
    flat: FlatPlan
    path_map: dict[str, str] = field(default_factory=dict)

    def source_path(self, path: str) -> str:
        return map_path(path, self.path_map)

    def error(self, code: str, path: str, message_th: str, message_en: str,
              status: int = 422) -> InputError:
        return InputError(code, self.source_path(path), message_th, message_en, status=status)


def read_plan(data: dict, *, source_name: str | None = None) -> PlanInput:
    """Adapt, validate and flatten a plan document. Raises InputError naming the field."""
    shape = detect_shape(data)
    path_map: dict[str, str] = {}
    # adapter errors already name the field in the file as given
    normalized = data if shape == "normalized" else SHAPES[shape](
        data, source_name=source_name, path_map=path_map)
    try:
        document = _parse_document(normalized)
        flat = flatten(document)
    except InputError as error:
        raise InputError(error.code, map_path(error.field or "body", path_map), error.message_th,
                         error.message_en, status=error.status) from None
    return PlanInput(shape, document, flat, path_map)


def _parse_document(data: dict) -> PlanDocument:
    try:
        return parse(PlanDocument, data)
    except InputError as error:
        # render dict keys (fiscal years) as [2568] and drop pydantic's key marker
        path = re.sub(r"\.\[key\]", "", error.field or "body")
        path = re.sub(r"\.(\d+)(?=$|[.\[])", r"[\1]", path)
        raise InputError(error.code, path, error.message_th, error.message_en,
                         status=error.status) from None


def map_path(path: str, path_map: dict[str, str]) -> str:
    """Translate a path in the normalized document to the path in the file as given."""
    for key in sorted(path_map, key=len, reverse=True):
        if path == key or path.startswith(key + ".") or path.startswith(key + "["):
            return path_map[key] + path[len(key):]
    return path
