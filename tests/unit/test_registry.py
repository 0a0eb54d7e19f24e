"""Tests for the synthetic national organisation registry (services.plans.registry)."""

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from services.plans.registry import (
    ADMIN_DIVISIONS_PATH,
    BMA_CODE,
    DLA_CODE,
    GENERATED_VALID_FROM,
    MOI_CODE,
    PATTAYA_CODE,
    OrgUnitSpec,
    load_admin_divisions,
    national_registry,
    province_registry,
    registry_counts,
)
from shared.vocabulary import LaoTypeName, OrgLevel

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAINAT_PROVINCE_ID = 9
TAI_MUEANG_SUBDISTRICT_ID = 820801
TAI_MUEANG_DISTRICT_ID = 879
PHANG_NGA_PROVINCE_ID = 65
MUNICIPALITY_TYPES = {
    LaoTypeName.CITY_MUNICIPALITY,
    LaoTypeName.TOWN_MUNICIPALITY,
    LaoTypeName.SUBDISTRICT_MUNICIPALITY,
}


@pytest.fixture(scope="module")
def divisions():
    return load_admin_divisions()


@pytest.fixture(scope="module")
def registry(divisions):
    return national_registry(divisions)


@pytest.fixture(scope="module")
def by_code(registry):
    return {unit.code: unit for unit in registry}


# --- Data file ------------------------------------------------------------------------------

def test_admin_divisions_come_from_the_repo(divisions):
    assert ADMIN_DIVISIONS_PATH == REPO_ROOT / "data" / "reference" / "admin_divisions.json"
    assert (len(divisions["provinces"]), len(divisions["districts"]),
            len(divisions["subdistricts"])) == (77, 928, 7475)


def test_chainat_is_province_9(divisions):
    provinces = {p["id"]: p["name_th"] for p in divisions["provinces"]}
    assert provinces[CHAINAT_PROVINCE_ID] == "ชัยนาท"


# --- Counts (the reference pack's table) ----------------------------------------------------

def test_counts_match_the_reference_pack(registry):
    counts = registry_counts(registry)
    assert counts["ministry"] == 1
    assert counts["department"] == 1
    assert counts["provincial_office"] == 76
    assert counts["district_office"] == 878
    assert counts["pao"] == 76
    assert counts["subdistrict_lao"] == 7283
    assert counts["pao"] + counts["subdistrict_lao"] == 7359
    assert counts["special"] == 2  # BMA and Pattaya City
    assert counts["lao"] == 7359 + 2
    assert counts["total"] == 1 + 1 + 76 + 878 + 7361
    assert counts["ministry_office"] == counts["department_bureau"] == 0
    print(f"\nregistry counts: {counts}")


def test_counts_have_a_stable_shape():
    counts = registry_counts([])
    expected_keys = {"total", "municipality", "subdistrict_lao"}
    expected_keys |= {str(level) for level in OrgLevel} | {str(t) for t in LaoTypeName}
    assert set(counts) == expected_keys
    assert all(value == 0 for value in counts.values())


def test_municipality_share_is_about_one_third(registry):
    counts = registry_counts(registry)
    share = counts["municipality"] / counts["subdistrict_lao"]
    assert 0.30 <= share <= 0.37, share
    # Most municipalities are subdistrict municipalities; one seat municipality per province.
    assert counts["town_municipality"] + counts["city_municipality"] == 76
    assert counts["subdistrict_municipality"] > 0.9 * counts["municipality"]
    print(f"\nmunicipality share: {share:.3f} ({counts['municipality']} of "
          f"{counts['subdistrict_lao']})")


# --- Structure ------------------------------------------------------------------------------

def test_codes_are_unique(registry):
    codes = [unit.code for unit in registry]
    assert len(codes) == len(set(codes))


def test_every_parent_exists_and_comes_before_its_child(registry):
    seen: set[str] = set()
    for unit in registry:
        if unit.code == MOI_CODE:
            assert unit.parent_code is None
        else:
            assert unit.parent_code in seen, unit
        seen.add(unit.code)


def test_parent_levels(registry, by_code):
    expected_parent_level = {
        OrgLevel.DEPARTMENT: OrgLevel.MINISTRY,
        OrgLevel.PROVINCIAL_OFFICE: OrgLevel.DEPARTMENT,
        OrgLevel.DISTRICT_OFFICE: OrgLevel.PROVINCIAL_OFFICE,
    }
    for unit in registry:
        parent = by_code.get(unit.parent_code)
        if unit.level in expected_parent_level:
            assert parent.level == expected_parent_level[unit.level]
        elif unit.lao_type in MUNICIPALITY_TYPES | {LaoTypeName.SAO}:
            assert parent.level == OrgLevel.DISTRICT_OFFICE
            assert parent.district_code == unit.district_code
        elif unit.lao_type == LaoTypeName.PAO:
            assert parent.level == OrgLevel.PROVINCIAL_OFFICE
            assert parent.province_code == unit.province_code


def test_code_formats(registry, divisions):
    subdistricts = {s["id"]: s for s in divisions["subdistricts"]}
    for unit in registry:
        if unit.level == OrgLevel.PROVINCIAL_OFFICE:
            assert unit.code == f"PLO-{unit.province_code:02d}"
        elif unit.level == OrgLevel.DISTRICT_OFFICE:
            assert unit.code == f"DLO-{unit.district_code:04d}"
        elif unit.lao_type == LaoTypeName.PAO:
            assert unit.code == f"PAO-{unit.province_code:02d}"
        elif unit.subdistrict_code is not None:
            assert unit.code == f"LAO-{unit.subdistrict_code}"
            source = subdistricts[unit.subdistrict_code]
            assert (unit.district_code, unit.province_code) == (
                source["district_id"], source["province_id"]
            )


def test_bangkok_is_outside_the_dla_cascade(registry, by_code):
    bma = by_code[BMA_CODE]
    assert bma.parent_code == MOI_CODE
    assert (bma.level, bma.lao_type) == (OrgLevel.LAO, LaoTypeName.SPECIAL)
    assert bma.name_th == "กรุงเทพมหานคร"
    bangkok_units = [unit for unit in registry if unit.province_code == 1]
    assert bangkok_units == [bma]


def test_pattaya_is_under_chon_buri(by_code):
    pattaya = by_code[PATTAYA_CODE]
    assert pattaya.parent_code == "PLO-11"
    assert by_code["PLO-11"].name_th == "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัดชลบุรี"
    assert (pattaya.level, pattaya.lao_type) == (OrgLevel.LAO, LaoTypeName.SPECIAL)
    assert pattaya.name_th == "เมืองพัทยา"
    assert pattaya.province_code == 11


def test_top_of_the_tree(by_code):
    assert by_code[MOI_CODE].name_th == "กระทรวงมหาดไทย"
    assert by_code[DLA_CODE].parent_code == MOI_CODE
    assert by_code[DLA_CODE].name_th == "กรมส่งเสริมการปกครองท้องถิ่น"


def test_generated_fields(registry):
    for unit in registry:
        assert unit.synthetic is True
        assert unit.valid_from == GENERATED_VALID_FROM
        assert unit.valid_to is None
        assert unit.contact_email == f"saraban@{unit.code.lower()}.thongthin.test"
        assert unit.name_th and unit.name_en
        assert unit.name_en.isascii(), unit.name_en
        assert (unit.lao_type is None) == (unit.level != OrgLevel.LAO)


def test_units_are_frozen(registry):
    with pytest.raises(dataclasses.FrozenInstanceError):
        registry[0].code = "X"  # type: ignore[misc]


# --- Names ----------------------------------------------------------------------------------

def test_chainat_keeps_its_real_names(registry, divisions):
    districts = {d["id"]: d["name_th"] for d in divisions["districts"]}
    subdistricts = {s["id"]: s["name_th"] for s in divisions["subdistricts"]}
    chainat = [unit for unit in registry if unit.province_code == CHAINAT_PROVINCE_ID]
    assert len(chainat) == 1 + 1 + 8 + 53  # PLO, PAO, 8 DLOs, 53 subdistrict LAOs

    names = {unit.code: unit.name_th for unit in chainat}
    assert names["PLO-09"] == "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัดชัยนาท"
    assert names["PAO-09"] == "องค์การบริหารส่วนจังหวัดชัยนาท"
    assert names["DLO-0115"] == "สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอเมืองชัยนาท"
    assert names["LAO-180101"] == "เทศบาลเมืองชัยนาท"  # seat of the province, in ในเมือง
    assert names["LAO-180102"].endswith("บ้านกล้วย")

    for unit in chainat:
        if unit.level == OrgLevel.DISTRICT_OFFICE:
            assert unit.name_th == (
                f"สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอ{districts[unit.district_code]}"
            )
        elif unit.lao_type in (LaoTypeName.SUBDISTRICT_MUNICIPALITY, LaoTypeName.SAO):
            prefix = "เทศบาลตำบล" if unit.lao_type == LaoTypeName.SUBDISTRICT_MUNICIPALITY else (
                "องค์การบริหารส่วนตำบล"
            )
            assert unit.name_th == prefix + subdistricts[unit.subdistrict_code]


def test_chainat_english_names(by_code):
    assert by_code["PLO-09"].name_en == "Chainat Provincial Office of Local Administration"
    assert by_code["DLO-0115"].name_en == "Mueang Chainat District Office of Local Administration"
    assert by_code["LAO-180101"].name_en == "Chainat Town Municipality"


def test_tai_mueang_sao(by_code):
    unit = by_code[f"LAO-{TAI_MUEANG_SUBDISTRICT_ID}"]
    assert unit.name_th == "องค์การบริหารส่วนตำบลท้ายเหมือง"
    assert unit.lao_type == LaoTypeName.SAO
    assert unit.parent_code == f"DLO-{TAI_MUEANG_DISTRICT_ID:04d}"
    assert (unit.province_code, unit.district_code, unit.subdistrict_code) == (
        PHANG_NGA_PROVINCE_ID, TAI_MUEANG_DISTRICT_ID, TAI_MUEANG_SUBDISTRICT_ID
    )
    assert unit.name_en == "Tai Mueang Subdistrict Administrative Organisation"
    assert by_code[unit.parent_code].name_th == "สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอท้ายเหมือง"


def test_each_province_has_one_seat_municipality_in_its_capital_district(registry, divisions):
    provinces = {p["id"]: p["name_th"] for p in divisions["provinces"]}
    seats = [u for u in registry
             if u.lao_type in (LaoTypeName.TOWN_MUNICIPALITY, LaoTypeName.CITY_MUNICIPALITY)]
    assert sorted(u.province_code for u in seats) == list(range(2, 78))
    for seat in seats:
        assert seat.subdistrict_code // 100 % 100 == 1  # capital district: code PP01xx
        assert seat.name_th.endswith(provinces[seat.province_code])
    names = {u.code: u.name_th for u in seats}
    assert names["LAO-500101"] == "เทศบาลนครเชียงใหม่"
    assert names["LAO-140101"] == "เทศบาลนครพระนครศรีอยุธยา"  # capital not named เมือง…


def test_name_patterns(registry, divisions):
    provinces = {p["id"]: p["name_th"] for p in divisions["provinces"]}
    for unit in registry:
        if unit.level == OrgLevel.PROVINCIAL_OFFICE:
            assert unit.name_th == (
                f"สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัด{provinces[unit.province_code]}"
            )
        elif unit.lao_type == LaoTypeName.PAO:
            assert unit.name_th == f"องค์การบริหารส่วนจังหวัด{provinces[unit.province_code]}"


# --- Determinism and speed ------------------------------------------------------------------

def test_deterministic_within_a_process(registry, divisions):
    assert national_registry(divisions) == registry


def test_deterministic_across_processes(registry):
    # A fresh interpreter gets a different str-hash salt: the LAO typing must not depend on it.
    script = (
        "import hashlib\n"
        "from services.plans.registry import national_registry\n"
        "text = '\\n'.join(repr(unit) for unit in national_registry())\n"
        "print(hashlib.sha256(text.encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], cwd=REPO_ROOT, check=True, capture_output=True,
            text=True, env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    local = hashlib.sha256("\n".join(repr(u) for u in registry).encode()).hexdigest()
    assert digests == {local}


def test_national_registry_builds_from_the_shipped_divisions_file(divisions):
    # Its speed is measured by `python -m bench.parsers`, not asserted in a test (the machine is shared).
    assert national_registry(divisions) == national_registry()


# --- Province registry ----------------------------------------------------------------------

def test_province_registry_for_chainat(divisions):
    units = province_registry(CHAINAT_PROVINCE_ID, divisions)
    codes = [unit.code for unit in units]
    assert codes[:3] == [MOI_CODE, DLA_CODE, "PLO-09"]
    counts = registry_counts(units)
    assert counts["provincial_office"] == 1
    assert counts["district_office"] == 8
    assert counts["pao"] == 1
    assert counts["subdistrict_lao"] == 53
    assert counts["total"] == 2 + 1 + 8 + 1 + 53
    present = set()
    for unit in units:
        assert unit.parent_code is None or unit.parent_code in present
        present.add(unit.code)


def test_province_registry_for_chon_buri_includes_pattaya(divisions):
    codes = {unit.code for unit in province_registry(11, divisions)}
    assert PATTAYA_CODE in codes and "PLO-11" in codes


def test_province_registry_for_bangkok_is_just_bma(divisions):
    codes = [unit.code for unit in province_registry(1, divisions)]
    assert codes == [MOI_CODE, DLA_CODE, BMA_CODE]


def test_province_registry_rejects_unknown_province(divisions):
    with pytest.raises(ValueError):
        province_registry(78, divisions)


def test_specs_are_plain_dataclasses():
    fields = [field.name for field in dataclasses.fields(OrgUnitSpec)]
    assert fields == [
        "code", "level", "lao_type", "parent_code", "name_th", "name_en", "province_code",
        "district_code", "subdistrict_code", "valid_from", "valid_to", "contact_email",
        "synthetic", "head_name_th", "head_email",
    ]


def test_every_lao_names_its_head_for_escalations_and_offices_do_not(registry, by_code):
    assert by_code["LAO-180101"].head_name_th == "นายกเทศมนตรีเมืองชัยนาท"
    assert by_code[BMA_CODE].head_name_th == "ผู้ว่าราชการกรุงเทพมหานคร"
    sao = next(u for u in registry if u.lao_type == LaoTypeName.SAO)
    assert sao.head_name_th == "นายก" + sao.name_th and sao.name_th.startswith("องค์การบริหารส่วนตำบล")
    lao_heads = [u for u in registry if u.level == OrgLevel.LAO]
    assert all(u.head_email and u.head_email.endswith(".thongthin.test") for u in lao_heads)
    assert all(u.head_name_th is None for u in registry if u.level != OrgLevel.LAO)
