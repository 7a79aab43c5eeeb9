"""The runtime list of FHIR R4 resource types, checked against fhir.resources (dev only)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import fhir.resources.R4B as r4b
from fhir.resources.R4B.resource import Resource

from schemas.fhir_types import R4_RESOURCE_TYPES

# R4 (4.0.1) and R4B (4.3.0) differ by these (HL7's R4B change list).
ONLY_IN_R4B = {
    "AdministrableProductDefinition", "Citation", "ClinicalUseDefinition", "EvidenceReport",
    "Ingredient", "ManufacturedItemDefinition", "MedicinalProductDefinition", "NutritionProduct",
    "PackagedProductDefinition", "RegulatedAuthorization", "SubscriptionStatus",
    "SubscriptionTopic", "SubstanceDefinition",
}  # fmt: skip
ONLY_IN_R4 = {
    "EffectEvidenceSynthesis", "MedicinalProduct", "MedicinalProductAuthorization",
    "MedicinalProductContraindication", "MedicinalProductIndication",
    "MedicinalProductIngredient", "MedicinalProductInteraction", "MedicinalProductManufactured",
    "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect", "RiskEvidenceSynthesis", "SubstanceNucleicAcid",
    "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
    "SubstanceSourceMaterial", "SubstanceSpecification",
}  # fmt: skip


def r4b_types() -> set[str]:
    names = set()
    for module_info in pkgutil.iter_modules(r4b.__path__):
        try:
            module = importlib.import_module(f"fhir.resources.R4B.{module_info.name}")
        except ImportError:
            continue
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Resource)
                and obj.__module__ == module.__name__
            ):
                names.add(name)
    return names - {"Resource", "DomainResource"}


def test_the_list_is_r4():
    assert len(R4_RESOURCE_TYPES) == 146
    assert (r4b_types() - ONLY_IN_R4B) | ONLY_IN_R4 == R4_RESOURCE_TYPES
