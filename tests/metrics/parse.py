"""Parses a Prometheus text exposition (standard input) with the reference Python parser
(prometheus_client.parser) and prints what it read as JSON: {family: {"type", "samples": [...]}}.
Fails (exit 1) when the text does not parse. Used by tests/http_contract.rs."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        families[family.name] = {
            "type": family.type,
            "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
        }
except Exception as error:  # the parser raises ValueError and friends on malformed text
    print(f"the exposition does not parse: {error!r}", file=sys.stderr)
    sys.exit(1)
json.dump(families, sys.stdout)
