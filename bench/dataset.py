#!/usr/bin/env python3
"""A realistic benchmark dataset: a network for each of the 53 regions, each with contracts, the three
Gremien plus working groups, contacts (some internal, some persons) and Handlungsfelder.
Prints the dataset file (the format of `rbn import`) to standard output.

`bench/dataset.py 100` scales the records that grow over the years (contracts, bodies, contacts) by 100;
networks (one per region) and Handlungsfelder stay as they are (bench/scale.sh)."""
import json
import sys
import uuid

REGIONS = """05111 05112 05113 05114 05116 05117 05119 05120 05122 05124 05154 05158 05162 05166 05170 05314
05315 05316 05334 05358 05362 05366 05370 05374 05378 05382 05512 05513 05515 05554 05558 05562 05566 05570
05711 05754 05758 05762 05766 05770 05774 05911 05913 05914 05915 05916 05954 05958 05962 05966 05970 05974
05978""".split()
NS = uuid.UUID("2b7f3c4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
CONTRACTS = [("founding", "2009"), ("amendment", "2015-06"), ("renewal", "2021-03-15")]
BODIES = [("bildungskonferenz", "Bildungskonferenz"), ("lenkungskreis", "Lenkungskreis"),
          ("bildungsbuero", "Regionales Bildungsbüro"), ("arbeitsgruppe", "AG Übergänge")]
CONTACTS_PER_NETWORK = 6


def uid(*parts):
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def build(factor=1):
    """The dataset with `factor` times the contracts, bodies and contacts of each network. Factor 1 is the
    dataset of bench/run.sh; its records keep their ids at every factor."""
    source = [{"document": "benchmark", "title": "Synthetischer Benchmark-Datensatz", "publisher": None, "date": "2026", "url": None}]
    topics = ["Schulische Inklusion", "Übergang Schule–Beruf", "Medienkonzepte in Schulen", "Integration", "Ganztag",
              "Frühe Bildung", "Lesekompetenz", "MINT-Bildung", "Demokratiebildung", "Weiterbildung"]
    handlungsfelder = [{"id": uid("hf", i), "slug": f"handlungsfeld-{i}", "name": name, "description": f"{name} in der Region.",
                        "sources": source} for i, name in enumerate(topics)]
    networks, contracts, bodies, contacts = [], [], [], []
    for n, key in enumerate(REGIONS):
        network_id = uid("network", key)
        networks.append({"id": network_id, "slug": f"netzwerk-{key}", "name": f"Regionales Bildungsnetzwerk {key}",
                         "regionKey": key, "status": "active", "website": f"https://bildung.example.org/{key}",
                         "description": "Ein Netzwerk für gute Bildung in der Region. " * 4,
                         "handlungsfeldIds": [h["id"] for h in handlungsfelder[n % 5: n % 5 + 4]], "sources": source})
        for c in range(len(CONTRACTS) * factor):
            kind, date = CONTRACTS[c % len(CONTRACTS)]
            contracts.append({"id": uid("contract", key, c), "networkId": network_id, "kind": kind, "signedOn": date,
                              "signatories": [{"name": "Ministerin Beispiel", "role": "Ministerin", "party": "land"},
                                              {"name": "Landrätin Muster", "role": "Landrätin", "party": "kommune"}],
                              "handlungsfeldIds": [handlungsfelder[(n + c) % 10]["id"]], "documentUrl": None,
                              "notes": "Kooperationsvertrag zwischen Land und Kommune.", "sources": source})
        for b in range(len(BODIES) * factor):
            kind, name = BODIES[b % len(BODIES)]
            name = name if b < len(BODIES) else f"{name} {b // len(BODIES) + 1}"
            bodies.append({"id": uid("body", key, b), "networkId": network_id, "type": kind, "name": name,
                           "description": f"{name} des Netzwerks.",
                           "address": {"street": "Hauptstraße 1", "postalCode": "40000", "city": "Musterstadt"},
                           "email": f"bildungsbuero-{key}@example.org", "phone": "+49 211 000000", "website": None,
                           "sources": source})
        for p in range(CONTACTS_PER_NETWORK * factor):
            role = p % CONTACTS_PER_NETWORK
            office = 2 + len(BODIES) * (p // CONTACTS_PER_NETWORK)  # each group of contacts works in a Bildungsbüro
            contacts.append({"id": uid("contact", key, p), "networkId": network_id, "bodyId": uid("body", key, office),
                             "districtKey": None, "name": f"Kontakt {p} im Bildungsbüro {key}", "function": "Koordination",
                             "organisation": f"Kreisverwaltung {key}", "email": f"kontakt{p}-{key}@example.org",
                             "phone": "+49 211 000001", "address": None,
                             "visibility": "internal" if role == 5 else "public", "isPerson": role >= 3,
                             "publicationConsent": role == 3, "sources": source})
    return {"format": "rbn-registry-dataset", "formatVersion": 1, "handlungsfelder": handlungsfelder,
            "networks": networks, "bodies": bodies, "contracts": contracts, "contacts": contacts}


if __name__ == "__main__":
    factor = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print(json.dumps(build(factor), ensure_ascii=False, indent=1))
