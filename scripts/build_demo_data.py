"""Build optimerge/demo/data/: a compact, derived sample of the Synthea R4 bundles for the demo
feed.

Reads 12 of the 40 bundles in /work/shared/data/fhir-r4-samples, keeps each Patient and the
clinical resources an extractor reads from documents, rewrites their references, and writes one
FHIR R4 Bundle (type `collection`) as gzip'd compact JSON. The output is byte-for-byte
reproducible: same input, same bytes.

    .venv/bin/python scripts/build_demo_data.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/work/shared/data/fhir-r4-samples")
DEFAULT_OUT = PROJECT_ROOT / "optimerge" / "demo" / "data"
SAMPLE_NAME = "sample.json.gz"

# Six women and six men born 1924-2008: two deceased, four with allergies, two born on a day <= 12
# (so a day/month swap is a valid wrong date), and no shared given or family name (so "another
# patient's name" is always a real mismatch).
SELECTED = (
    "Alejandro_Riojas_a9fcc685-c7a2-4474-bf25-26c8fe4b48f9.json",
    "Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json",
    "Bethany_Hauck_36ab2c13-d59e-4f1f-913c-9260ef647da8.json",
    "Caridad_Olivares_a4fe84b5-18d3-4cf2-a9e3-5677db049e9e.json",
    "Frank_McDermott_e4b360e5-2fcb-44e7-8388-bc2281f27ee9.json",
    "Judson_Eichmann_34d4fd7e-b2b6-42fc-adb5-09db196b8662.json",
    "Kermit_Trantow_f1a650a5-737e-4fd7-828e-03c3348b9524.json",
    "Marcos_Delagarza_4acb6705-25a7-430a-b799-a4ad8d7fbb38.json",
    "Marion_Wintheiser_bbe88fd0-26fc-4285-8a6f-53bbb76d8897.json",
    "Monika_Green_5a422bd7-d15f-4ce5-89f1-d3fa4f19c34e.json",
    "Twanda_Rippin_28529cd4-05d7-4df6-aa7c-7fb4d7af2e0f.json",
    "Xuan_Christiansen_e0a173ba-4a66-45ad-9ef1-47f2eb875ee3.json",
)

CLINICAL_TYPES = (
    "AllergyIntolerance",
    "CarePlan",
    "Condition",
    "DiagnosticReport",
    "Immunization",
    "MedicationRequest",
    "Observation",
    "Procedure",
)
KEPT_TYPES = frozenset({"Patient", *CLINICAL_TYPES})

Json = Any


def rewrite_references(node: Json, types_by_id: dict[str, str]) -> Json:
    """`urn:uuid:<id>` becomes `<Type>/<id>` for a kept resource; a reference to a dropped one
    keeps only its display, or disappears when it has none (all such elements are optional)."""
    if isinstance(node, list):
        items = [rewrite_references(item, types_by_id) for item in node]
        return [item for item in items if item is not None]
    if not isinstance(node, dict):
        return node
    reference = node.get("reference")
    if isinstance(reference, str) and reference.startswith("urn:uuid:"):
        target = reference.removeprefix("urn:uuid:")
        target_type = types_by_id.get(target)
        if target_type in KEPT_TYPES:
            return {**node, "reference": f"{target_type}/{target}"}
        display_only = {k: v for k, v in node.items() if k != "reference"}
        return display_only if "display" in display_only else None
    rewritten: dict[str, Json] = {}
    for key, value in node.items():
        new_value = rewrite_references(value, types_by_id)
        if new_value is not None and new_value != []:
            rewritten[key] = new_value
    return rewritten


def derive(bundle: Json) -> tuple[list[Json], Counter[str]]:
    """The Patient first, then its clinical resources in source order; and what was dropped."""
    resources = [entry["resource"] for entry in bundle["entry"]]
    types_by_id = {r["id"]: r["resourceType"] for r in resources}
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    if len(patients) != 1:
        raise ValueError(f"expected one Patient, found {len(patients)}")
    kept = [
        rewrite_references(r, types_by_id) for r in resources if r["resourceType"] in KEPT_TYPES
    ]
    kept.sort(key=lambda r: r["resourceType"] != "Patient")
    dropped = Counter(r["resourceType"] for r in resources if r["resourceType"] not in KEPT_TYPES)
    return kept, dropped


def validate(bundle: Json) -> None:
    """Every resource must stay valid FHIR: fhir.resources (a dev dependency) has R4B, the
    closest model to R4 it ships."""
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError:  # pragma: no cover - only without the dev extras
        print("build_demo_data: fhir.resources not installed, skipping validation", file=sys.stderr)
        return
    Bundle.model_validate(bundle)


def build(source: Path, out: Path) -> Path:
    entries: list[Json] = []
    dropped: Counter[str] = Counter()
    for name in SELECTED:
        bundle = json.loads((source / name).read_text(encoding="utf-8"))
        kept, dropped_here = derive(bundle)
        entries.extend({"resource": resource} for resource in kept)
        dropped.update(dropped_here)
    sample = {
        "resourceType": "Bundle",
        "id": "optimerge-demo-synthea-sample",
        "type": "collection",
        "entry": entries,
    }
    validate(sample)
    out.mkdir(parents=True, exist_ok=True)
    target = out / SAMPLE_NAME
    payload = json.dumps(sample, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # mtime=0 and no file name in the header keep the gzip bytes reproducible.
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(payload)
    kept_types = Counter(entry["resource"]["resourceType"] for entry in entries)
    print(f"wrote {target} ({target.stat().st_size:,} bytes, {len(payload):,} uncompressed)")
    print("kept:    " + ", ".join(f"{t} {n}" for t, n in sorted(kept_types.items())))
    print("dropped: " + ", ".join(f"{t} {n}" for t, n in sorted(dropped.items())))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    build(args.source, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
