"""Drug and procedure orders as EHRs code them: RxNorm clinical/branded drugs, NDC products and CPT codes.

Order entry sends RxNorm SCD/SBD codes ("everolimus 10 MG Oral Tablet", RxCUI 845507, is what the
official CDS Hooks sandbox orders), US pharmacy systems NDC package codes, and US procedure orders
CPT codes. Each must reach the same modality, and so the same card, as the ingredient or the
SNOMED CT code the pathway was written against.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from cds_hooks.config import REPO_ROOT
from cds_hooks.validate import validate_cds_response
from nelm_fhir.terminology import default_terminology, systems
from tests.service.requests_ import draft_medication_request, draft_service_request, order_hook
from tests.service.vignettes import bundle, normal_form, patient_id

MAPPINGS = REPO_ROOT / "mappings"
NDC = "http://hl7.org/fhir/sid/ndc"
CPT = "http://www.ama-assn.org/go/cpt"
# The modality each ingredient is ordered as (PATHWAY.md: SSA, everolimus, sunitinib, cytotoxics, PRRT).
INGREDIENT_MODALITY = {
    "everolimus": "everolimus", "sunitinib": "sunitinib", "octreotide": "somatostatin-analogue",
    "lanreotide": "somatostatin-analogue", "capecitabine": "chemotherapy", "temozolomide": "chemotherapy",
    "etoposide": "chemotherapy", "cisplatin": "chemotherapy", "carboplatin": "chemotherapy",
    "doxorubicin": "chemotherapy", "fluorouracil": "chemotherapy", "streptozocin": "chemotherapy",
    "lutetium-lu-177-dotatate": "prrt",
}
# Ingredient RxCUIs of mappings/rxnorm.json: the reference an order coded with a product must equal.
INGREDIENT_RXCUI = {"everolimus": "141704", "sunitinib": "357977", "octreotide": "7617", "capecitabine": "194000",
                    "temozolomide": "37776", "etoposide": "4179", "carboplatin": "40048", "doxorubicin": "3639"}


def _entries(name: str, key: str) -> list[dict[str, Any]]:
    doc = json.loads((MAPPINGS / name).read_text(encoding="utf-8"))
    entries: list[dict[str, Any]] = doc[key]
    return entries


PRODUCTS = _entries("rxnorm-products.json", "codes")
NDC_PREFIXES = _entries("ndc.json", "prefixes")


@pytest.mark.parametrize("entry", PRODUCTS, ids=lambda e: e["code"])
def test_every_product_rxcui_maps_to_the_modality_of_its_ingredient(entry: dict[str, Any]) -> None:
    ingredient = entry["concept"].removeprefix("drug:")
    assert ingredient.lower() in entry["display"].lower(), "the display names the ingredient it is filed under"
    assert entry["status"] == "VERIFIED" and entry["evidence"]
    modality = default_terminology().modality_for_order([(systems.RXNORM, entry["code"])])
    assert modality == INGREDIENT_MODALITY[ingredient]


def test_the_sandbox_s_clinical_drugs_are_recognised() -> None:
    term = default_terminology()
    # RxCUIs as the CDS Hooks sandbox's medication list names them (its order screen sends these).
    sandbox = {"845507": "everolimus",  # everolimus 10 MG Oral Tablet
               "845512": "everolimus",  # everolimus 10 MG Oral Tablet [Afinitor]
               "616285": "sunitinib",  # sunitinib 25 MG Oral Capsule
               "616292": "sunitinib",  # sunitinib 50 MG Oral Capsule [Sutent]
               "200328": "chemotherapy",  # capecitabine 500 MG Oral Tablet
               "317160": "chemotherapy"}  # temozolomide 100 MG Oral Capsule
    assert {c: term.modality_for_order([(systems.RXNORM, c)]) for c in sandbox} == sandbox
    assert term.modality_for_order([(systems.RXNORM, "845509")]) is None  # not an everolimus product


def test_transplant_everolimus_is_not_read_as_the_net_drug() -> None:
    # everolimus 0.25/0.5/0.75 MG Oral Tablet and their [Zortress] forms: rejection prophylaxis after a transplant
    term = default_terminology()
    for code in ("977427", "977431", "977434", "977436", "977438", "977440"):
        assert term.modality_for_order([(systems.RXNORM, code)]) is None
    assert all("0.25 MG" not in e["display"] and "Zortress" not in e["display"] for e in PRODUCTS)


@pytest.mark.parametrize("entry", NDC_PREFIXES, ids=lambda e: e["prefix"])
def test_every_ndc_product_maps_in_each_written_form(entry: dict[str, Any]) -> None:
    ingredient = entry["concept"].removeprefix("drug:")
    term = default_terminology()
    package = entry["prefix"] + "01"
    assert term.modality_for_order([(NDC, package)]) == INGREDIENT_MODALITY[ingredient]


def test_ndc_forms_of_one_package_agree_and_unknown_products_do_not_match() -> None:
    term = default_terminology()
    forms = ["0078-0818-81", "00078-0818-81", "00078081881"]  # Sandostatin LAR kit, as EHRs write it
    assert {term.modality_for_order([(NDC, f)]) for f in forms} == {"somatostatin-analogue"}
    assert term.modality_for_order([(NDC, "0078-0819-81")]) is None
    assert term.modality_for_order([(NDC, "00078081981")]) is None


@pytest.mark.parametrize(("code", "modality"), [("47120", "curative-resection"), ("47122", "curative-resection"),
                                                ("47125", "curative-resection"), ("47130", "curative-resection"),
                                                ("47135", "liver-transplantation"), ("47382", "rfa"),
                                                ("47380", "rfa"), ("47370", "rfa"), ("79445", "radioembolization")])
def test_cpt_liver_procedures_map_to_their_modality(code: str, modality: str) -> None:
    assert default_terminology().modality_for_order([(CPT, code)]) == modality


@pytest.mark.parametrize("code", ["37243", "37241", "79101"])
def test_cpt_codes_that_do_not_name_the_liver_are_not_guessed(code: str) -> None:
    assert default_terminology().modality_for_order([(CPT, code)]) is None


def _post(app: Flask, vid: str, order: dict[str, Any]) -> dict[str, Any]:
    body = order_hook("order-select", patient_id(vid), [order], bundle(vid))
    response = app.test_client().post("/cds-services/nelm-order-select", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert validate_cds_response(answer) == []
    return answer


def _product_of(ingredient: str) -> list[str]:
    return [e["code"] for e in PRODUCTS if e["concept"] == f"drug:{ingredient}"][:2]


@pytest.mark.parametrize("vid", ["V08", "V14", "V29"])
@pytest.mark.parametrize("ingredient", sorted(INGREDIENT_RXCUI))
def test_a_product_coded_drug_order_gets_the_card_of_its_ingredient(
    module_app: Flask, vid: str, ingredient: str
) -> None:
    pid = patient_id(vid)

    def order(system: str, code: str) -> dict[str, Any]:
        return draft_medication_request("mr-1", pid, system, code, f"{ingredient} order")

    reference = normal_form(_post(module_app, vid, order(systems.RXNORM, INGREDIENT_RXCUI[ingredient])))
    assert reference, "each chosen vignette answers this drug with a card, so the comparison means something"
    for code in _product_of(ingredient):
        assert normal_form(_post(module_app, vid, order(systems.RXNORM, code))) == reference
    ndc = next((e["prefix"] for e in NDC_PREFIXES if e["concept"] == f"drug:{ingredient}"), None)
    if ndc is not None:
        assert normal_form(_post(module_app, vid, order(NDC, ndc + "01"))) == reference


@pytest.mark.parametrize(("cpt", "snomed"), [("47120", "85946004"), ("47135", "18027006"), ("47382", "5415002")])
def test_a_cpt_coded_procedure_order_gets_the_card_of_its_snomed_code(module_app: Flask, cpt: str, snomed: str) -> None:
    for vid in ("V08", "V14"):
        pid = patient_id(vid)
        by_cpt = _post(module_app, vid, draft_service_request("sr-1", pid, CPT, cpt, "liver procedure"))
        by_sct = _post(module_app, vid, draft_service_request("sr-1", pid, "http://snomed.info/sct", snomed,
                                                              "liver procedure"))
        assert normal_form(by_sct), "the SNOMED CT order gets a card on these vignettes"
        assert normal_form(by_cpt) == normal_form(by_sct)
